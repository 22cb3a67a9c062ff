// Settings: the conversation's (what each model sees of the earlier turns) and the reader's
// own (costs of simulated answers, one-key shortcuts, Sync scroll), in the Settings popover and
// the Sync scroll button of the top bar.

import { api, getConversation } from "./api.js";
import { byId } from "./dom.js";
import { reportError } from "./notice.js";
import { popover } from "./popover.js";
import { on, setPref, state } from "./state.js";

const els = {
  button: byId("settings-open"),
  panel: byId("settings"),
  policy: byId("context-policy"),
  simulatedCosts: byId("pref-simulated-costs"),
  singleKeys: byId("pref-single-keys"),
  sync: byId("sync-scroll"),
};

let pendingPolicy = null; // chosen before the conversation exists: set once it does

const updateConversation = (id, body) => api("PATCH", `/conversations/${id}`, body);

async function showPolicy() {
  pendingPolicy = null;
  if (state.conversationId == null) {
    els.policy.value = "isolated";
    return;
  }
  const id = state.conversationId;
  try {
    const conversation = await getConversation(id);
    if (id === state.conversationId) els.policy.value = conversation.context_policy || "isolated";
  } catch {
    // transcript.js reports what went wrong opening it
  }
}

async function choosePolicy() {
  const policy = els.policy.value;
  if (state.conversationId == null) {
    pendingPolicy = policy; // the first turn creates the conversation
    return;
  }
  try {
    await updateConversation(state.conversationId, { context_policy: policy });
  } catch (error) {
    reportError(error);
  }
}

async function applyPendingPolicy() {
  if (pendingPolicy == null || state.conversationId == null) return;
  const policy = pendingPolicy;
  pendingPolicy = null;
  try {
    await updateConversation(state.conversationId, { context_policy: policy });
  } catch (error) {
    reportError(error);
  }
}

// Every turn on screen draws its figures and cost again (a cost may now be shown, or not).
function redrawFigures() {
  for (const el of document.querySelectorAll("#turns > .turn")) {
    const view = el.layout?.view;
    if (!view) continue;
    for (const column of view.columns.values()) column.renderFigures();
    view.renderCost();
  }
}

function showSync() {
  els.sync.setAttribute("aria-pressed", String(state.prefs.syncScroll));
}

export function bindSettings() {
  popover(els.button, els.panel);
  els.policy.addEventListener("change", choosePolicy);
  els.simulatedCosts.checked = state.prefs.simulatedCosts;
  els.simulatedCosts.addEventListener("change", () => setPref("simulatedCosts", els.simulatedCosts.checked));
  els.singleKeys.checked = state.prefs.singleKeys;
  els.singleKeys.addEventListener("change", () => setPref("singleKeys", els.singleKeys.checked));
  els.sync.addEventListener("click", () => setPref("syncScroll", !state.prefs.syncScroll));
  showSync();
  on("prefs", ({ name }) => {
    if (name === "simulatedCosts") redrawFigures();
    if (name === "syncScroll") showSync();
    if (name === "singleKeys") els.singleKeys.checked = state.prefs.singleKeys;
  });
  on("shown", showPolicy);
  on("turn-started", applyPendingPolicy);
}
