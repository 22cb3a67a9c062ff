// The comparison page: starts it and wires its modules together. Each module owns one part:
//
//   state.js       what the modules share (the conversation on screen, the live turns), events
//   providers.js   the providers GET /api/v1/providers lists, with their display names
//   router.js      the URL hash <-> the conversation on screen; reload picks a turn up again
//   transcript.js  the conversation on screen: title, turns, welcome, scrolling
//   turn.js        one turn: its columns, their live stream, the figures and the comparison
//   composer.js    the prompt box, Send and Stop all, sending a turn
//   picker.js      which models to ask: the provider chips, pinned models, health dots
//   sidebar.js     the conversation list: open, rename, delete, show more
//   sidebar-select.js  selecting several conversations and deleting them at once
//   search.js      the sidebar's search box and the export links of the conversation shown
//   retry.js       Retry on each column and Add model on each turn (live or past)
//   status.js      the status event in words ("retrying 2/3 in 1 s")
//   drawer.js      showing and hiding the sidebar
//   notice.js      the notice above the composer
//   signin.js      the sign-in form when the gateway has client keys, who is signed in
//   arena.js       the Blind toggle, votes under blind turns, the reveal, the context policy
//   leaderboard.js the leaderboard view, with each rating's interval as an error bar
//   api.js, dom.js the API client, DOM building
//   markdown.js, markdown-inline.js   the Markdown renderer (incremental; never HTML)

import { bindArena } from "./arena.js";
import { bindComposer, focusPrompt, updateComposer } from "./composer.js";
import { bindDrawer, closeSidebarOnPhone, initDrawer } from "./drawer.js";
import { bindLeaderboard } from "./leaderboard.js";
import { bindNotice } from "./notice.js";
import { refreshHealth, setUpPicker } from "./picker.js";
import { bindRouter, route, writeHash } from "./router.js";
import { bindSearch, updateExport } from "./search.js";
import { bindSidebar, markActive, refreshConversations } from "./sidebar.js";
import { startSession } from "./signin.js";
import { on, state } from "./state.js";
import { bindTranscript } from "./transcript.js";

// What each module does when another says what happened (the events are listed in state.js).
function wire() {
  on("shown", ({ push, blank }) => {
    writeHash(push);
    updateComposer();
    markActive();
    closeSidebarOnPhone();
    updateExport();
    if (blank) focusPrompt();
  });
  on("lone-turn", () => updateComposer());
  on("turn-started", ({ push }) => {
    writeHash(push);
    updateExport();
    updateComposer();
    refreshConversations();
  });
  on("turn-ended", () => {
    writeHash();
    updateComposer();
    refreshConversations();
    refreshHealth();
  });
}

function bind() {
  bindNotice();
  bindComposer();
  bindSidebar();
  bindSearch();
  bindDrawer();
  bindTranscript();
  bindRouter();
  bindArena();
  bindLeaderboard();
}

// For tests and debugging: the live turns and a way to re-read every stream from the start.
function exposeForTests() {
  window.multichat = {
    state,
    replayFromStart: () => {
      for (const view of state.live.values()) view.connect(0);
    },
  };
}

async function main() {
  wire();
  bind();
  initDrawer();
  await startSession(); // with keys on and no session: after the sign-in form
  await setUpPicker();
  route();
  refreshConversations();
  exposeForTests();
  document.documentElement.dataset.ready = "true";
}

main();
