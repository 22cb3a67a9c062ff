// The keyboard: one-key shortcuts (when the focus is not in a field), listed in the help that
// `?` opens. They can be turned off in Settings (then only Escape and the help button remain):
// a speech-input user's words must not set them off.
//
//   n       a new comparison            /       search the conversations
//   a … e   that answer is best         t, x    a tie, all bad (a blind turn open to a vote)
//   ?       this help                   Esc     stop the running turn (composer.js)

import { byId } from "./dom.js";
import { toggleSidebar } from "./drawer.js";
import { closePopovers } from "./popover.js";
import { focusSearch } from "./search.js";
import { emit, state } from "./state.js";
import { newConversation } from "./transcript.js";
import { voteByKey } from "./vote.js";

const els = { help: byId("help"), open: byId("help-open"), close: byId("help-close") };

const typing = (el) => el && (el.closest("input, textarea, select, [contenteditable]") || el.isContentEditable);

export function openHelp() {
  closePopovers();
  emit("view", { name: "help" });
  if (!els.help.open) els.help.showModal();
}

function onKey(event) {
  if (!state.prefs.singleKeys || event.defaultPrevented || event.isComposing) return;
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || els.help.open) return;
  const key = event.key.toLowerCase();
  let done = true;
  if (event.key === "?") openHelp();
  else if (key === "n") {
    newConversation(true);
    byId("prompt").focus();
  } else if (key === "/") {
    toggleSidebar(true);
    focusSearch();
  } else if ("abcdetx".includes(key) && key.length === 1) done = voteByKey(key);
  else done = false;
  if (done) event.preventDefault();
}

export function bindShortcuts() {
  document.addEventListener("keydown", onKey);
  els.open.addEventListener("click", openHelp);
  els.close.addEventListener("click", () => els.help.close());
  // A click on the backdrop (outside the dialog's box) closes it too.
  els.help.addEventListener("click", (event) => {
    if (event.target === els.help) els.help.close();
  });
}
