// The comparison page: starts it and wires its modules together. Each module owns one part:
//
//   state.js       what the modules share (the conversation on screen, the live turns, the
//                  reader's choices), events
//   providers.js   the providers GET /api/v1/providers lists, with their display names
//   router.js      the URL hash <-> what is on screen; reload picks a turn up again
//   transcript.js  the conversation on screen: title, turns, welcome, where it is scrolled to
//   turn.js        one turn: its columns and the live stream that fills them
//   column.js      one answer's column: header, text, figures
//   turn-layout.js side by side, two at a time, one at a time; Expand; Sync scroll
//   comparison.js  the bars under a turn; figures.js  an answer's figures and their words
//   composer.js    the prompt box, Send and Stop all, sending a turn
//   attachments.js images for the next prompt (drop, paste, choose), uploaded at once
//   turn-settings.js  the next turn's system prompt, temperature, length, reasoning
//   reasoning.js   each answer's reasoning, streamed above it, folded once it answers
//   prompt-extras.js  a prompt's images and settings, what each model was not given
//   picker.js      which models to ask: the provider chips, the Models popover, health dots
//   arena.js       Named, Blind or Battle; vote.js  the vote under a blind turn, the reveal
//   leaderboard.js the leaderboard view (#leaderboard), ties and the intervals' axis
//   settings.js    the Settings popover and Sync scroll; theme.js  light or dark
//   sidebar.js     the conversation list: open, rename, delete, show more
//   sidebar-select.js  selecting several conversations and deleting them at once
//   roving.js      one Tab stop per list, arrows within it
//   search.js      the sidebar's search box and the export links of the conversation shown
//   highlight.js   a search's matches, highlighted in the conversation it opened
//   shortcuts.js   one-key shortcuts and the help (?)
//   popover.js     the popover pattern (a button and its panel)
//   retry.js       Retry on each column and Add model on each turn (live or past)
//   branches.js    ‹ 1/2 › on an edited prompt and on a retried answer, Edit on a prompt
//                  (its text, and which models answer it)
//   status.js      the status event in words ("retrying 2/3 in 1 s")
//   drawer.js      showing and hiding the sidebar
//   notice.js      the notice above the composer
//   signin.js      the sign-in form when the gateway has client keys, who is signed in
//   share-link.js  Share: a read-only link to the conversation, a question or the leaderboard
//   turn-share.js  Share on each finished turn: that dialog, its question chosen
//   api.js, dom.js the API client, DOM building
//   markdown.js, markdown-inline.js   the Markdown renderer (incremental; never HTML)

import { bindArena } from "./arena.js";
import { bindAttachments } from "./attachments.js";
import { bindComposer, focusPrompt, updateComposer } from "./composer.js";
import { bindDrawer, closeSidebarOnPhone, initDrawer } from "./drawer.js";
import { bindLeaderboard } from "./leaderboard.js";
import { bindNotice } from "./notice.js";
import { refreshHealth, setUpPicker } from "./picker.js";
import { closePopovers } from "./popover.js";
import { bindRouter, route, writeHash } from "./router.js";
import { bindSearch, updateExport } from "./search.js";
import { bindSettings } from "./settings.js";
import { bindShare } from "./share-link.js";
import { bindShortcuts } from "./shortcuts.js";
import { bindSidebar, markActive, refreshConversations } from "./sidebar.js";
import { startSession } from "./signin.js";
import { on, state } from "./state.js";
import { initTheme } from "./theme.js";
import { bindTurnSettings } from "./turn-settings.js";
import "./branches.js"; // branches and runs, Edit: a turn extension
import "./turn-share.js"; // each turn's Share, after Edit in its bar: a turn extension
import "./prompt-extras.js"; // a prompt's images and settings: a turn extension
import "./reasoning.js"; // each answer's reasoning: a turn extension
import "./vote.js"; // the vote under blind turns: a turn extension
import "./fuse.js"; // "Fuse with" and the fused answer: a turn extension

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
  // Another view (the leaderboard, the help) opens: the phone's menu and any popover close.
  on("view", ({ name }) => {
    if (!name) return;
    closeSidebarOnPhone();
    closePopovers();
  });
}

function bind() {
  bindNotice();
  bindComposer();
  bindAttachments();
  bindTurnSettings();
  bindSidebar();
  bindSearch();
  bindDrawer();
  bindRouter();
  bindArena();
  bindLeaderboard();
  bindSettings();
  bindShortcuts();
  bindShare();
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
  initTheme();
  wire();
  bind();
  initDrawer();
  await startSession(); // with keys on and no session: after the sign-in form
  await setUpPicker();
  const routed = route();
  refreshConversations();
  exposeForTests();
  await routed; // ready means what the address names is on screen
  document.documentElement.dataset.ready = "true";
}

main();
