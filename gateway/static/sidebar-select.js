// Deleting several conversations at once: "Select" puts a checkbox on every conversation in
// the sidebar, "Delete (n)" asks once and deletes them all with DELETE /conversations/{id}.

import { deleteConversation } from "./api.js";
import { h } from "./dom.js";
import { reportError } from "./notice.js";
import { state } from "./state.js";
import { newConversation } from "./transcript.js";

const chosen = new Set(); // conversation ids ticked
let selecting = false;
let refresh = () => {};

const toggle = h(
  "button",
  { type: "button", class: "button-small select-toggle", "aria-pressed": "false" },
  "Select",
);
const deleteButton = h("button", { type: "button", class: "button-small danger select-delete" });
const bar = h("div", { class: "select-bar", hidden: true }, deleteButton);

/** Put the Select button beside `title` (the sidebar's heading); `reload` redraws the list. */
export function bindSelection(title, reload) {
  refresh = reload;
  const head = h("div", { class: "sidebar-head" });
  title.replaceWith(head);
  head.append(title, toggle);
  head.after(bar);
  toggle.addEventListener("click", () => setSelecting(!selecting));
  deleteButton.addEventListener("click", () => confirmDeletion());
  renderBar();
}

function setSelecting(on) {
  selecting = on;
  chosen.clear();
  toggle.textContent = on ? "Done" : "Select";
  toggle.setAttribute("aria-pressed", String(on));
  renderBar();
  refresh();
}

/** The checkbox for a conversation's row while selecting, else null. */
export function selectBox(conversation, title) {
  if (!selecting) return null;
  return h("input", {
    type: "checkbox",
    class: "conv-select",
    "aria-label": `Select “${title}”`,
    checked: chosen.has(conversation.id),
    onchange: (event) => {
      if (event.target.checked) chosen.add(conversation.id);
      else chosen.delete(conversation.id);
      renderBar();
    },
  });
}

// Ids no longer listed (deleted elsewhere) are forgotten when the list is drawn.
export function keepOnly(ids) {
  for (const id of [...chosen]) if (!ids.has(id)) chosen.delete(id);
  renderBar();
}

function renderBar() {
  bar.hidden = !selecting;
  deleteButton.disabled = chosen.size === 0;
  deleteButton.textContent = `Delete selected (${chosen.size})`;
  deleteButton.dataset.state = "ready";
}

// The first press asks, the second deletes (as the single delete confirms in place).
async function confirmDeletion() {
  if (!chosen.size) return;
  if (deleteButton.dataset.state !== "confirm") {
    deleteButton.dataset.state = "confirm";
    const n = chosen.size;
    deleteButton.textContent = `Delete ${n} conversation${n === 1 ? "" : "s"}? Press again`;
    return;
  }
  const ids = [...chosen];
  deleteButton.disabled = true;
  const results = await Promise.allSettled(ids.map((id) => deleteConversation(id)));
  for (const result of results) {
    // Already gone is what was wanted.
    if (result.status === "rejected" && result.reason.status !== 404) reportError(result.reason);
  }
  if (ids.includes(state.conversationId)) newConversation();
  setSelecting(false);
}
