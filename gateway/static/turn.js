// One turn: the user's prompt, one column per provider (column.js), how they are laid out
// (turn-layout.js), the comparison (comparison.js), and the live stream that fills them.
//
// A live turn reads its events from an EventSource. The id of every event is remembered, and
// an event whose id is not above the last one seen is ignored, so a replay (a reconnect with
// Last-Event-ID, a reopened stream, a reloaded page asking for ?last_event_id=0) never shows a
// piece of text twice. On `done` the column takes done.content, the stored text, as the truth.
//
// Slots for what other modules add: `promptBar` (beside the prompt: e.g. branches ‹1/2›),
// `blockEl` (a full-width block under the columns: e.g. a fused answer); `turnExtensions` hear
// of every turn's changes, of each frame of streamed text, and of the events this module does
// not know (reveal, thinking, …). `userMessage`: a stored turn's prompt as the conversation
// gives it (its images, its settings); a live one's composer sets `attachments`, `settings`.

import { cancelTurn, eventsUrl, getTurn } from "./api.js";
import { AnswerColumn, FINISHED } from "./column.js";
import { Comparison } from "./comparison.js";
import { h } from "./dom.js";
import { costShown, formatCost } from "./figures.js";
import { addModelControl, syncAddModel } from "./retry.js";
import { showStatus } from "./status.js";
import { TurnLayout } from "./turn-layout.js";

const EVENT_TYPES = ["turn", "start", "status", "delta", "thinking", "done", "reveal", "end"];
const MAX_RECOVERIES = 8;

// Modules that add to every turn (vote.js: the vote under a blind turn's columns; reasoning.js:
// each answer's reasoning), told {changed(view), event(view, type, data), streamed?(view)} for
// each turn on screen.
export const turnExtensions = [];

// A column's key: its provider, or in a blind turn its label (A, B, …), which is all it shows.
const keyOf = (data) => data.provider ?? data.label;

export class TurnView {
  /**
   * prompt: the user's text (may be set later); hooks: {onChange, onEnd, onConversation,
   * onError} called by a live turn.
   */
  constructor(prompt, hooks = {}) {
    this.hooks = hooks;
    this.columns = new Map();
    this.turnId = null;
    this.conversationId = null;
    this.blind = false;
    this.revealed = false;
    this.live = false;
    this.ended = false;
    this.lastId = 0;
    this.source = null;
    this.recoveries = 0;
    this.recoverTimer = 0;
    this.userMessage = null;
    this.attachments = [];
    this.settings = null;

    this.promptEl = h("div", { class: "prompt-text" });
    this.promptBar = h("div", { class: "prompt-bar" });
    this.statusEl = h("p", { class: "turn-status", "aria-live": "polite" });
    this.costEl = h("p", { class: "turn-cost", hidden: true });
    this.blockEl = h("div", { class: "turn-block" });
    this.layout = new TurnLayout(this);
    this.grid = this.layout.grid;
    this.comparison = new Comparison();
    this.el = h(
      "section",
      { class: "turn" },
      h(
        "div",
        { class: "prompt" },
        h("h2", { class: "prompt-label" }, "You asked"),
        this.promptEl,
        this.promptBar,
      ),
      this.layout.toolbar,
      this.grid,
      addModelControl(this),
      this.blockEl,
      this.statusEl,
      this.comparison.el,
      this.costEl,
    );
    this.layout.attach(this.el);
    this.setPrompt(prompt);
  }

  // A blind turn before its vote: nothing that tells who answered is shown.
  get sealed() {
    return this.blind && !this.revealed;
  }

  setPrompt(prompt) {
    this.promptEl.textContent = prompt || "";
    this.promptEl.closest(".prompt").hidden = !prompt;
  }

  column(key, model, simulated) {
    let column = this.columns.get(key);
    if (!column) {
      const who = this.blind ? { label: key } : { provider: key };
      column = new AnswerColumn(this, { key, model, simulated, ...who });
      this.columns.set(key, column);
      this.layout.add(column);
    } else {
      column.setModel(model, simulated);
    }
    return column;
  }

  // A finished turn from GET /conversations/{id}: a user message and its answers, in the
  // providers' usual order (not the order they happened to be stored in).
  static stored(group, order = []) {
    const view = new TurnView(group.user ? group.user.content : "");
    view.turnId = group.turnId;
    view.userMessage = group.user;
    view.ended = true;
    // A fused answer is no column: fuse.js shows the latest one under the columns.
    const fused = group.answers.filter((message) => message.kind === "fuse");
    view.storedFusion = fused.length ? fused[fused.length - 1] : null;
    group = { ...group, answers: group.answers.filter((message) => message.kind !== "fuse") };
    view.blind = group.answers.some((message) => message.label);
    view.revealed = view.blind && group.answers.every((message) => message.provider);
    const rank = (message) => {
      if (view.blind) return message.label.charCodeAt(0); // blind: by label, as it streamed
      const at = order.indexOf(message.provider);
      return at < 0 ? order.length : at;
    };
    const answers = [...group.answers].sort((a, b) => rank(a) - rank(b));
    for (const message of answers) {
      const key = view.blind ? message.label : message.provider;
      const column = view.column(key, view.blind ? null : message.model, null);
      if (view.revealed) column.reveal(message);
      column.finish(message);
    }
    view.changed();
    return view;
  }

  removeColumn(key) {
    const column = this.columns.get(key);
    if (!column) return;
    this.columns.delete(key);
    this.layout.remove(column);
  }

  changed() {
    syncAddModel(this);
    this.comparison.update([...this.columns.values()], this.sealed);
    this.renderCost();
    for (const extension of turnExtensions) extension.changed(this);
    this.layout.changed();
    this.streamed();
  }

  // New text in a column: only the status line can have changed.
  streamed() {
    this.renderStatus();
    for (const extension of turnExtensions) if (extension.streamed) extension.streamed(this);
    if (this.hooks.onChange) this.hooks.onChange(this);
  }

  // The turn's cost: the sum of its answers' estimated costs, where they may be shown.
  renderCost() {
    const costs = this.sealed
      ? []
      : [...this.columns.values()]
          .filter((c) => c.figures && costShown(c.figures.cost, c.simulated))
          .map((c) => c.figures.cost);
    this.costEl.hidden = costs.length === 0;
    if (costs.length) {
      const total = costs.reduce((sum, cost) => sum + cost, 0);
      this.costEl.textContent = `Estimated cost of this turn: ${formatCost(total)}`;
      this.costEl.dataset.costUsd = String(total);
    }
  }

  renderStatus(connection) {
    const columns = [...this.columns.values()];
    const finished = columns.filter((c) => FINISHED.has(c.status));
    let text = "";
    if (connection) text = connection;
    else if (this.live && !this.ended) {
      text = columns.length
        ? `Streaming · ${finished.length} of ${columns.length} answers done`
        : "Connecting…";
    } else if (this.ended && this.live) {
      const counts = {};
      for (const c of columns) {
        const word = c.status === "cancelled" ? "stopped" : c.status;
        counts[word] = (counts[word] || 0) + 1;
      }
      text = `Done · ${Object.entries(counts)
        .map(([status, n]) => `${n} ${status}`)
        .join(", ")}`;
    }
    this.statusEl.textContent = text;
    this.statusEl.hidden = text === "";
    this.statusEl.classList.toggle("warning", Boolean(connection));
  }

  // -- live streaming ---------------------------------------------------------------------

  attach(turnId, url) {
    this.turnId = turnId;
    this.url = url || eventsUrl(turnId);
    this.live = true;
    this.el.dataset.turnId = turnId;
    for (const column of this.columns.values()) column.setStatus(column.status);
    this.renderStatus();
  }

  // Open the event stream after `after` (default: the last event seen). Events already seen
  // are ignored, so asking for more than needed is harmless.
  connect(after = this.lastId) {
    this.closeSource();
    const sep = this.url.includes("?") ? "&" : "?";
    const source = new EventSource(`${this.url}${sep}last_event_id=${after}`);
    this.source = source;
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (event) => this.receive(type, event));
    }
    source.onopen = () => {
      this.recoveries = 0;
      this.renderStatus();
    };
    source.onerror = () => {
      if (this.ended || source !== this.source) return;
      if (source.readyState === EventSource.CLOSED) this.recover();
      else this.renderStatus("Connection lost · reconnecting…");
    };
  }

  closeSource() {
    if (this.source) {
      this.source.onerror = null;
      this.source.close();
      this.source = null;
    }
  }

  receive(type, event) {
    const id = Number(event.lastEventId);
    if (Number.isInteger(id) && id > 0) {
      if (id <= this.lastId) return; // already shown: a replay after a reconnect
      this.lastId = id;
    }
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    this.handle(type, data);
  }

  handle(type, data) {
    if (data.provider === "fuse") {
      // A fusion's start, delta, done: no column's, but the block under them (fuse.js).
      for (const extension of turnExtensions) extension.event(this, type, data);
      return;
    }
    switch (type) {
      case "turn":
        this.conversationId = data.conversation_id;
        this.blind = Boolean(data.blind);
        for (const p of data.providers || []) this.column(keyOf(p), p.model, p.simulated);
        if (this.hooks.onConversation) this.hooks.onConversation(this, data.conversation_id);
        this.changed();
        break;
      case "start": {
        const column = this.column(keyOf(data), data.model, null);
        if (column.status === "waiting") column.setStatus("streaming");
        break;
      }
      case "status":
        showStatus(this.column(keyOf(data)), data);
        break;
      case "delta":
        this.column(keyOf(data)).append(data.text || "");
        break;
      case "done":
        this.column(keyOf(data)).finish(data);
        break;
      case "end":
        this.end();
        break;
      default:
        for (const extension of turnExtensions) extension.event(this, type, data);
        break;
    }
  }

  end() {
    this.ended = true;
    this.closeSource();
    clearTimeout(this.recoverTimer);
    for (const column of this.columns.values()) column.setStatus(column.status);
    this.changed();
    if (this.hooks.onEnd) this.hooks.onEnd(this);
  }

  // The browser gave up on the stream (an HTTP error on a reconnect, or a 204): ask the
  // turn's state, then open the stream again after the last event seen, with a back-off.
  async recover() {
    this.closeSource();
    if (this.ended) return;
    this.renderStatus("Connection lost · reconnecting…");
    if (this.recoveries >= MAX_RECOVERIES) {
      this.renderStatus("Lost the connection to this turn. Reload the page to try again.");
      return;
    }
    const delay = Math.min(10000, 250 * 2 ** this.recoveries);
    this.recoveries += 1;
    try {
      await getTurn(this.turnId);
    } catch (error) {
      if (error.status === 404) {
        this.abandon("This turn is no longer known to the gateway.");
        return;
      }
    }
    clearTimeout(this.recoverTimer);
    this.recoverTimer = setTimeout(() => {
      if (!this.ended) this.connect();
    }, delay);
  }

  abandon(message) {
    this.ended = true;
    this.closeSource();
    for (const column of this.columns.values()) {
      if (!FINISHED.has(column.status)) column.setStatus("unknown");
    }
    this.changed();
    this.renderStatus(message);
    if (this.hooks.onEnd) this.hooks.onEnd(this);
  }

  async stop(keys) {
    if (!this.turnId || this.ended) return;
    const stopping = keys || [...this.columns.keys()];
    for (const key of stopping) {
      const column = this.columns.get(key);
      if (column && !FINISHED.has(column.status)) column.setStatus("stopping");
    }
    try {
      await cancelTurn(this.turnId, keys);
    } catch (error) {
      if (this.hooks.onError) this.hooks.onError(error);
    }
  }

  get running() {
    return this.live && !this.ended;
  }
}
