// Share: the topbar's link button (a conversation), each turn's Share (turn-share.js: one
// question) and the leaderboard's Share… open one dialog that makes a read-only link (POST …/share), shows it with Copy, and stops sharing
// (DELETE …/share: every link of that conversation, or of the leaderboard). The link is shown
// once, as the gateway answers it: only its hash is kept there.

import { api } from "./api.js";
import { byId, h } from "./dom.js";
import { plainText } from "./markdown-inline.js";
import { emit, on, state } from "./state.js";

const els = {
  open: byId("share-open"),
  openBoard: byId("leaderboard-share"),
  dialog: byId("share-dialog"),
  title: byId("share-dialog-title"),
  conversationFields: byId("share-conversation-fields"),
  boardFields: byId("share-leaderboard-fields"),
  what: byId("share-what"),
  costs: byId("share-costs"),
  settings: byId("share-settings"),
  live: byId("share-live"),
  expiry: byId("share-expiry"),
  create: byId("share-create"),
  revoke: byId("share-revoke"),
  result: byId("share-result"),
  url: byId("share-url"),
  copy: byId("share-copy"),
  status: byId("share-status"),
};

let target = null; // {kind: "conversation", id} or {kind: "leaderboard"}

const sharePath = () =>
  target.kind === "leaderboard" ? "/leaderboard/share" : `/conversations/${target.id}/share`;

function say(text) {
  els.status.textContent = text;
}

// next.turnId: the question chosen in "What to share" (a turn's own Share), else the whole
// conversation.
async function openFor(next) {
  target = next;
  const board = target.kind === "leaderboard";
  els.title.textContent = board ? "Share the leaderboard" : conversationTitle(next.turnId);
  els.conversationFields.hidden = board;
  els.boardFields.hidden = !board;
  els.result.hidden = true;
  els.url.value = "";
  say("");
  emit("view", { name: "share" });
  if (!els.dialog.open) els.dialog.showModal();
  // No conversation link until the list is there: Create would otherwise share what the
  // select says before the question asked for is in it (the whole conversation).
  els.create.disabled = !board;
  if (!board) {
    const listed = await listTurns(next);
    if (target !== next) return; // opened again meanwhile
    els.what.value = next.turnId || "";
    if (els.what.value === (next.turnId || "")) {
      els.create.disabled = false;
    } else {
      // Never the whole conversation in its place: the reader chooses what else to share.
      els.what.selectedIndex = -1;
      if (listed) say("That question is no longer in this conversation: choose what to share.");
    }
  }
  await countLinks();
}

// A turn's Share: the same dialog, that question chosen.
export function shareTurn(conversationId, turnId) {
  return openFor({ kind: "conversation", id: conversationId, turnId });
}

// The title says what "What to share" says: the conversation, or one question of it.
const conversationTitle = (turnId) => (turnId ? "Share this question" : "Share this conversation");

// "What to share": the whole conversation, or one of its questions; false if they could not be
// listed.
// The options are put in at once, and only for the opening still shown: two openings in flight
// would otherwise list every question twice.
async function listTurns(opening) {
  const whole = h("option", { value: "" }, "The whole conversation");
  els.what.replaceChildren(whole);
  let conversation;
  try {
    conversation = await api("GET", `/conversations/${opening.id}`);
  } catch (error) {
    if (target === opening) say(error.message);
    return false;
  }
  if (target !== opening) return false;
  const prompts = conversation.messages.filter((m) => m.role === "user" && m.turn_id);
  const options = prompts.map((m, i) => {
    const text = plainText(m.content).slice(0, 60);
    return h("option", { value: m.turn_id }, `Question ${i + 1} only: ${text}`);
  });
  els.what.replaceChildren(whole, ...options);
  return true;
}

// How many links still open what this dialog shares (the conversation's, or the owner's
// leaderboard links): Stop sharing shows when there is one.
async function countLinks() {
  let links = [];
  try {
    if (target.kind === "leaderboard") {
      links = (await api("GET", "/shares")).filter((s) => s.kind === "leaderboard");
    } else {
      links = await api("GET", sharePath());
    }
  } catch {
    links = [];
  }
  els.revoke.hidden = links.length === 0;
  if (links.length && !els.status.textContent) {
    say(links.length === 1 ? "1 link is open." : `${links.length} links are open.`);
  }
}

async function createLink() {
  const body = {};
  if (els.expiry.value) body.expires_in = Number(els.expiry.value);
  if (target.kind === "leaderboard") {
    body.live = els.live.checked;
  } else {
    if (els.what.value) body.turn_id = els.what.value;
    body.show_costs = els.costs.checked;
    body.show_settings = els.settings.checked;
  }
  els.create.disabled = true;
  try {
    const link = await api("POST", sharePath(), body);
    els.url.value = link.url;
    els.result.hidden = false;
    els.url.focus();
    els.url.select();
    say(link.expires_at ? `Link made: it works until ${new Date(link.expires_at).toLocaleString()}.` : "Link made: it works until you stop sharing.");
    els.revoke.hidden = false;
  } catch (error) {
    say(error.message);
  } finally {
    els.create.disabled = false;
  }
}

async function revokeLinks() {
  try {
    await api("DELETE", sharePath());
    els.result.hidden = true;
    els.url.value = "";
    els.revoke.hidden = true;
    say("Stopped sharing: every link made here no longer opens.");
  } catch (error) {
    say(error.message);
  }
}

async function copyLink() {
  els.url.select();
  try {
    await navigator.clipboard.writeText(els.url.value);
  } catch {
    document.execCommand("copy"); // plain http, where the clipboard API may be withheld
  }
  say("Copied.");
}

function updateButton() {
  els.open.hidden = state.conversationId == null || state.view === "leaderboard";
}

export function bindShare() {
  els.open.addEventListener("click", () => openFor({ kind: "conversation", id: state.conversationId }));
  els.openBoard.addEventListener("click", () => openFor({ kind: "leaderboard" }));
  els.create.addEventListener("click", createLink);
  els.revoke.addEventListener("click", revokeLinks);
  els.copy.addEventListener("click", copyLink);
  els.what.addEventListener("change", () => {
    els.title.textContent = conversationTitle(els.what.value);
    els.create.disabled = false; // chosen now, if a turn's Share found its question gone
  });
  els.dialog.addEventListener("click", (event) => {
    if (event.target === els.dialog) els.dialog.close();
  });
  for (const event of ["shown", "turn-started", "lone-turn", "view"]) on(event, updateButton);
  updateButton();
}
