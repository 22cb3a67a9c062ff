// The arena: the Blind toggle, the vote under a blind turn's columns, the reveal, and the
// conversation's context policy (how each model sees the earlier answers).
//
// A blind turn's columns are named by label (A, B, …) only: no name, no model, no colour,
// since the page never learns who answered until the vote (the API withholds it). turn.js
// tells this module about every turn on screen (turnExtensions).

import { api, getConversation, getTurn } from "./api.js";
import { byId, h } from "./dom.js";
import { reportError } from "./notice.js";
import { displayName } from "./providers.js";
import { on, state } from "./state.js";
import { turnExtensions } from "./turn.js";

const STORAGE_KEY = "multichat.blind";
const VERDICTS = { tie: "a tie", all_bad: "all bad" };

const els = {
  blind: byId("blind"),
  policy: byId("context-policy"),
};

let pendingPolicy = null; // chosen before the conversation exists: set once it does

export function blindChosen() {
  return els.blind.checked;
}

const vote = (turnId, body) => api("POST", `/turns/${encodeURIComponent(turnId)}/vote`, body);
const updateConversation = (id, body) => api("PATCH", `/conversations/${id}`, body);

// -- the vote under a blind turn -------------------------------------------------------------

class VoteBar {
  constructor(view) {
    this.view = view;
    this.voted = false;
    this.sending = false;
    this.buttons = h("div", { class: "vote-labels" });
    this.extra = h(
      "div",
      { class: "vote-extra" },
      this.button("tie", "It's a tie", { winner: "tie" }),
      this.button("all_bad", "All are bad", { winner: "all_bad" }),
    );
    this.summary = h("p", { class: "vote-summary", role: "status", hidden: true });
    this.el = h(
      "div",
      { class: "vote", dataset: { turnId: view.turnId } },
      h("p", { class: "vote-title" }, "Which answer is best? Who wrote which is shown after you vote."),
      this.buttons,
      this.extra,
      this.summary,
    );
    this.labels = [];
  }

  button(choice, text, body) {
    return h(
      "button",
      {
        type: "button",
        class: "button-small vote-button",
        dataset: { vote: choice },
        onclick: () => this.cast(body),
      },
      text,
    );
  }

  update() {
    const labels = [...this.view.columns.keys()];
    if (labels.join() !== this.labels.join()) {
      this.labels = labels;
      this.buttons.style.setProperty("--cols", String(labels.length));
      this.buttons.replaceChildren(
        ...labels.map((label) => this.button(label, `${label} is best`, { winner: label })),
      );
    }
    // Read every answer first: the vote opens once the turn has ended.
    const open = this.view.ended && !this.voted && !this.sending;
    for (const button of this.el.querySelectorAll(".vote-button")) button.disabled = !open;
  }

  async cast(body) {
    if (this.voted || this.sending) return;
    this.sending = true;
    this.update();
    try {
      const result = await vote(this.view.turnId, body);
      this.show(result);
    } catch (error) {
      if (error.status === 409) await this.load(); // voted already (another tab)
      else reportError(error);
    } finally {
      this.sending = false;
      this.update();
    }
  }

  // A stored turn: has it been voted on? (GET /turns/{id} reveals it if so.)
  async load() {
    try {
      const turn = await getTurn(this.view.turnId);
      if (turn.vote) this.show(turn.vote);
    } catch {
      // Gone, or the gateway is away: the buttons stay, a vote would say why.
    }
  }

  show(result) {
    this.voted = true;
    reveal(this.view, result.revealed);
    const best = result.winner;
    for (const [label, column] of this.view.columns) {
      column.el.classList.toggle("voted-best", label === best);
    }
    let text = VERDICTS[result.verdict] ? `You voted: ${VERDICTS[result.verdict]}.` : "";
    if (result.verdict === "winner") text = `You voted: ${best} is best.`;
    if (result.verdict === "ranking") text = `You ranked: ${result.ranking.join(" > ")}.`;
    this.buttons.hidden = true;
    this.extra.hidden = true;
    this.el.querySelector(".vote-title").hidden = true;
    this.summary.textContent = `${text} ${result.revealed
      .map((r) => `${r.label} was ${displayName(r.provider)} (${r.model})`)
      .join(", ")}.`;
    this.summary.hidden = false;
    this.update();
  }
}

// Who each label was: names and models into the columns.
function reveal(view, revealed) {
  for (const who of revealed) {
    const column = view.columns.get(who.label);
    if (!column) continue;
    column.el.querySelector(".answer-name").textContent = `${who.label} · ${displayName(who.provider)}`;
    column.setModel(who.model, who.simulated);
    column.el.dataset.revealed = who.provider;
  }
}

const bars = new WeakMap(); // TurnView -> VoteBar

turnExtensions.push({
  changed(view) {
    if (!view.blind || !view.turnId) return;
    let bar = bars.get(view);
    if (!bar) {
      bar = new VoteBar(view);
      bars.set(view, bar);
      view.grid.after(bar.el);
      if (!view.live) bar.load(); // a stored turn: maybe voted on already
    }
    bar.update();
  },
  event(view, type, data) {
    // Voted elsewhere while this stream was open.
    if (type !== "reveal" || !data.labels) return;
    const bar = bars.get(view);
    if (bar) bar.load();
    else reveal(view, Object.entries(data.labels).map(([label, who]) => ({ label, ...who })));
  },
});

// -- the conversation's settings -------------------------------------------------------------

async function showSettings() {
  pendingPolicy = null;
  if (state.conversationId == null) {
    els.policy.value = "isolated";
    els.blind.checked = savedBlind();
    return;
  }
  const id = state.conversationId;
  try {
    const conversation = await getConversation(id);
    if (id !== state.conversationId) return;
    els.policy.value = conversation.context_policy || "isolated";
    if (conversation.blind) els.blind.checked = true;
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

function savedBlind() {
  try {
    return localStorage.getItem(STORAGE_KEY) === "true";
  } catch {
    return false;
  }
}

export function bindArena() {
  els.blind.checked = savedBlind();
  els.blind.addEventListener("change", () => {
    try {
      localStorage.setItem(STORAGE_KEY, String(els.blind.checked));
    } catch {
      // Private mode: not remembered.
    }
  });
  els.policy.addEventListener("change", choosePolicy);
  on("shown", showSettings);
  on("turn-started", applyPendingPolicy);
}
