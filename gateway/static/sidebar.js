// The conversation list in the sidebar: newest first, fifty at a time ("Show more"), the one
// on screen marked, a live dot on those still answering; opening, renaming and deleting one.

import { deleteConversation, listConversations, renameConversation } from "./api.js";
import { byId, h, icon } from "./dom.js";
import { plainText } from "./markdown-inline.js";
import { bindRoving, rove } from "./roving.js";
import { bindSelection, keepOnly, selectBox } from "./sidebar-select.js";
import { reportError } from "./notice.js";
import { isAnswering, state } from "./state.js";
import { newConversation, openConversation, showTitle } from "./transcript.js";

const PAGE_SIZE = 50;
const API_PAGE_MAX = 100; // the most GET /conversations/ returns at once

const els = {
  list: byId("conversation-list"),
  empty: byId("conversation-empty"),
  more: byId("more-conversations"),
  newChat: byId("new-chat"),
};

let conversations = [];
let listLimit = PAGE_SIZE;

// Read the list again (after a turn, a rename, a delete) and show it.
export async function refreshConversations() {
  let page;
  try {
    page = await fetchConversations(listLimit);
  } catch (error) {
    reportError(error);
    return;
  }
  conversations = page.items;
  keepOnly(new Set(conversations.map((c) => c.id)));
  renderConversations(page.total);
}

// "Show more" may ask for more than the API pages by: ask page after page.
async function fetchConversations(limit) {
  const items = [];
  let total = 0;
  while (items.length < limit) {
    const want = Math.min(API_PAGE_MAX, limit - items.length);
    const page = await listConversations(want, items.length);
    items.push(...page.items);
    total = page.total;
    if (page.items.length < want || items.length >= total) break;
  }
  return { items, total };
}

function renderConversations(total) {
  const items = conversations.map((c) => conversationItem(c));
  const focused = els.list.contains(document.activeElement);
  els.list.replaceChildren(...items);
  rove(els.list);
  if (focused) els.list.querySelector('.conv-open[tabindex="0"]')?.focus();
  els.empty.hidden = items.length > 0;
  els.more.hidden = total <= conversations.length;
  const current = conversations.find((c) => c.id === state.conversationId);
  if (current) showTitle(current.title); // it may have been renamed
  markActive();
}

// Mark the conversation on screen.
export function markActive() {
  for (const item of els.list.children) {
    const active = Number(item.dataset.id) === state.conversationId;
    item.classList.toggle("active", active);
    const open = item.querySelector(".conv-open");
    if (open) {
      if (active) open.setAttribute("aria-current", "page");
      else open.removeAttribute("aria-current");
    }
  }
  if (!els.list.contains(document.activeElement)) rove(els.list);
}

function conversationItem(conversation) {
  const live = isAnswering(conversation.id);
  const title = plainText(conversation.title); // a title is the prompt: no Markdown marks
  const item = h("li", { class: "conversation", dataset: { id: String(conversation.id) } });
  const open = h(
    "button",
    {
      type: "button",
      class: "conv-open",
      title,
      // While selecting, the row ticks its box instead of opening.
      onclick: () => (box ? box.click() : openConversation(conversation.id, { push: true })),
    },
    h("span", { class: "conv-title" }, title),
    h(
      "span",
      { class: "conv-meta" },
      live ? h("span", { class: "live-dot", title: "answering now" }) : null,
      relativeTime(conversation.updated_at),
    ),
  );
  const actions = h(
    "div",
    { class: "conv-actions" },
    actionButton("rename", "Rename", "pencil", title, () =>
      startRename(item, conversation),
    ),
    actionButton("delete", "Delete", "trash", title, () =>
      confirmDelete(item, conversation),
    ),
  );
  const box = selectBox(conversation, title);
  if (box) item.classList.add("selecting");
  item.append(...(box ? [box, open] : [open, actions]));
  item.conversation = conversation;
  return item;
}

// Rename or Delete, as an icon button named for the conversation it acts on.
function actionButton(kind, label, iconName, title, onclick) {
  return h(
    "button",
    {
      type: "button",
      class: `button-icon conv-${kind}`,
      title: label,
      "aria-label": `${label} “${title}”`,
      onclick,
    },
    icon(iconName),
  );
}

// The title becomes a text field: Enter (or leaving it) saves, Escape keeps the old title.
function startRename(item, conversation) {
  const input = h("input", {
    type: "text",
    class: "conv-title-input",
    value: conversation.title,
    maxlength: "200",
    "aria-label": "Conversation title",
  });
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const title = input.value.trim();
    if (save && title && title !== conversation.title) {
      try {
        await renameConversation(conversation.id, title);
      } catch (error) {
        reportError(error);
      }
    }
    refreshConversations();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      finish(true);
    } else if (event.key === "Escape") {
      event.preventDefault();
      finish(false);
    }
  });
  input.addEventListener("blur", () => finish(true));
  item.classList.add("editing");
  item.replaceChildren(input);
  input.focus();
  input.select();
}

// The item asks "Delete this conversation?" in place, with Delete and Cancel.
function confirmDelete(item, conversation) {
  item.classList.add("confirming");
  item.replaceChildren(
    h("span", { class: "confirm-text" }, "Delete this conversation?"),
    h(
      "div",
      { class: "confirm-actions" },
      h(
        "button",
        {
          type: "button",
          class: "button-small danger confirm-delete",
          onclick: () => deleteAndForget(conversation),
        },
        "Delete",
      ),
      h(
        "button",
        { type: "button", class: "button-small", onclick: () => refreshConversations() },
        "Cancel",
      ),
    ),
  );
  item.querySelector(".confirm-delete").focus();
}

async function deleteAndForget(conversation) {
  try {
    await deleteConversation(conversation.id);
  } catch (error) {
    if (error.status !== 404) reportError(error); // already gone is what was wanted
  }
  if (state.conversationId === conversation.id) newConversation();
  refreshConversations();
}

function relativeTime(iso) {
  const then = Date.parse(iso);
  if (!Number.isFinite(then)) return "";
  const seconds = Math.max(0, (Date.now() - then) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(then).toLocaleDateString();
}

export function bindSidebar() {
  bindRoving(els.list, {
    rename: (row) => startRename(row, row.conversation),
    remove: (row) => confirmDelete(row, row.conversation),
  });
  bindSelection(document.querySelector(".sidebar-title"), () => refreshConversations());
  els.newChat.addEventListener("click", () => newConversation(true));
  els.more.addEventListener("click", () => {
    listLimit += PAGE_SIZE;
    refreshConversations();
  });
}
