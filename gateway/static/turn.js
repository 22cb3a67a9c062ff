// One turn: the user's prompt, one column per provider, the figures and their comparison.
//
// A live turn reads its events from an EventSource. The id of every event is remembered, and
// an event whose id is not above the last one seen is ignored, so a replay (a reconnect with
// Last-Event-ID, a reopened stream, a reloaded page asking for ?last_event_id=0) never shows a
// piece of text twice. On `done` the column takes done.content, the stored text, as the truth.

import { cancelTurn, eventsUrl, getTurn } from "./api.js";
import { h, icon } from "./dom.js";
import { MarkdownView } from "./markdown.js";
import { displayName } from "./providers.js";
import { addModelControl, retryButton, syncAddModel, syncRetry } from "./retry.js";
import { showStatus } from "./status.js";

const STATUS_LABELS = {
  waiting: "waiting",
  streaming: "streaming",
  stopping: "stopping…",
  complete: "complete",
  failed: "failed",
  cancelled: "cancelled",
  unknown: "unknown",
};
const FINISHED = new Set(["complete", "failed", "cancelled"]);
const EVENT_TYPES = ["turn", "start", "status", "delta", "done", "reveal", "end"];
const MAX_RECOVERIES = 8;

// Modules that add to every turn (arena.js: the vote under a blind turn's columns), told
// {changed(view), event(view, type, data)} for each turn on screen.
export const turnExtensions = [];

// A column's key: its provider, or in a blind turn its label (A, B, …), which is all it shows.
const keyOf = (data) => data.provider ?? data.label;

// -- figures ------------------------------------------------------------------------------

// A stopped answer has no usage from its provider (that comes at the end): its tokens are
// estimated from the text that arrived, at the usual four characters a token, and say so.
const CHARS_PER_TOKEN = 4;

export function figuresOf(answer) {
  const ttft = num(answer.ttft_ms);
  const total = num(answer.latency_ms);
  const usage = answer.usage || {};
  const input = num(usage.input_tokens ?? answer.input_tokens);
  let output = num(usage.output_tokens ?? answer.output_tokens);
  let estimated = false;
  const content = answer.content || "";
  if (output == null && content !== "") {
    output = Math.max(1, Math.round(content.length / CHARS_PER_TOKEN));
    estimated = true;
  }
  let speed = null;
  if (output != null && ttft != null && total != null && total > ttft && output > 0) {
    speed = output / ((total - ttft) / 1000);
  }
  const cost = num(answer.cost_usd);
  // Only a complete answer can be the best at anything: a failed or stopped one was cut short.
  const rankable = answer.status === "complete";
  return { ttft, total, speed, input, output, estimated, cost, rankable };
}

function num(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

export function formatMs(ms) {
  if (ms == null) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function formatSpeed(rate) {
  if (rate == null) return "—";
  return `${rate.toFixed(rate < 10 ? 1 : 0)} tok/s`;
}

function formatTokens(figures) {
  if (figures.input == null && figures.output == null) return "—";
  const part = (n) => (n == null ? "?" : String(n));
  const out = `${figures.estimated ? "≈" : ""}${part(figures.output)}`;
  return `${part(figures.input)} in · ${out} out`;
}

export function formatCost(usd) {
  if (usd == null) return "—";
  if (usd === 0) return "$0";
  if (usd < 0.0001) return "<$0.0001";
  return `$${usd < 1 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

// -- one provider's column ----------------------------------------------------------------

class AnswerColumn {
  constructor(turn, { provider, model, simulated }) {
    this.turn = turn;
    this.provider = provider;
    this.text = "";
    this.status = "waiting";
    this.figures = null;
    this.version = 0; // counts finishes, so the comparison redraws only when figures change
    this.frame = 0;

    this.modelEl = h("span", { class: "answer-model" });
    this.simEl = h("span", { class: "tag tag-sim", hidden: true }, "simulated");
    this.statusEl = h("span", { class: "status", role: "status" });
    this.stopButton = h(
      "button",
      {
        type: "button",
        class: "button-small stop-one",
        title: `Stop ${displayName(provider)} (the others go on)`,
        "aria-label": `Stop ${displayName(provider)}`,
        hidden: true,
        onclick: () => this.turn.stop([provider]),
      },
      icon("stop"),
      h("span", { class: "label" }, "Stop"),
    );
    this.copyButton = h(
      "button",
      {
        type: "button",
        class: "button-icon copy",
        title: "Copy this answer",
        "aria-label": `Copy ${displayName(provider)}'s answer`,
        hidden: true,
        onclick: () => this.copy(),
      },
      icon("copy"),
    );
    this.retryButton = retryButton(this);
    this.textEl = h("div", { class: "answer-text" });
    this.markdown = new MarkdownView(this.textEl);
    this.placeholderEl = h("p", { class: "answer-placeholder" });
    this.errorEl = h("p", { class: "answer-error", role: "alert", hidden: true });
    this.figuresEl = h("dl", { class: "figures", hidden: true });
    // The column scrolls on its own; it follows new text unless the reader scrolled up.
    this.bodyEl = h("div", { class: "answer-body" }, this.placeholderEl, this.textEl, this.errorEl);
    this.follow = true;
    this.bodyEl.addEventListener("scroll", () => {
      const { scrollHeight, scrollTop, clientHeight } = this.bodyEl;
      this.follow = scrollHeight - scrollTop - clientHeight < 40;
    });

    this.el = h(
      "article",
      { class: "answer", dataset: { provider, status: "waiting" } },
      h(
        "header",
        { class: "answer-head" },
        h(
          "div",
          { class: "answer-row" },
          h("h3", { class: "answer-name" }, displayName(provider)),
          this.stopButton,
          this.retryButton,
          this.copyButton,
        ),
        h("div", { class: "answer-sub" }, this.statusEl, this.modelEl, this.simEl),
      ),
      this.bodyEl,
      this.figuresEl,
    );
    this.setModel(model, simulated);
    this.setStatus("waiting");
  }

  setModel(model, simulated) {
    if (model) {
      this.modelEl.textContent = model;
      this.modelEl.title = model;
    }
    if (simulated != null) {
      this.simEl.hidden = !simulated;
      this.modelEl.title = `${this.modelEl.textContent}${simulated ? " (simulated)" : ""}`;
    }
  }

  setStatus(status) {
    this.status = status;
    this.el.dataset.status = status;
    this.statusEl.textContent = STATUS_LABELS[status] || status;
    this.statusEl.className = `status status-${status}`;
    const running = !FINISHED.has(status) && status !== "unknown";
    this.stopButton.hidden = !(running && this.turn.live && status !== "stopping");
    this.placeholderEl.hidden = !(running && this.text === "");
    this.placeholderEl.textContent =
      status === "waiting" ? "Waiting for the model…" : "Waiting for the first token…";
    if (!running && this.text === "") this.renderEmpty();
    syncRetry(this);
  }

  // Retry (retry.js): the column starts over, waiting for its provider's new answer.
  reset() {
    this.text = "";
    this.figures = null;
    this.figuresEl.hidden = true;
    this.errorEl.hidden = true;
    this.copyButton.hidden = true;
    this.textEl.replaceChildren();
    delete this.el.dataset.progress;
    this.setStatus("waiting");
  }

  renderEmpty() {
    // A failed answer with no text shows its error only.
    this.markdown.reset();
    if (this.status !== "failed") this.textEl.append(h("p", { class: "answer-empty" }, "(no text)"));
  }

  append(text) {
    this.text += text;
    if (this.status === "waiting") this.setStatus("streaming");
    this.placeholderEl.hidden = true;
    this.copyButton.hidden = false;
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render(true);
      });
    }
  }

  // streaming: a frame of deltas (only appended text: the figures have not changed).
  render(streaming = false) {
    if (this.frame) {
      cancelAnimationFrame(this.frame);
      this.frame = 0;
    }
    if (this.text === "" && FINISHED.has(this.status)) {
      this.renderEmpty();
    } else {
      this.markdown.update(this.text, streaming);
      if (streaming && this.follow) this.bodyEl.scrollTop = this.bodyEl.scrollHeight;
    }
    if (streaming) this.turn.streamed();
    else this.turn.changed();
  }

  // A `done` event, or a stored assistant message: both carry the final, stored answer.
  finish(answer) {
    this.answer = answer;
    this.text = answer.content || "";
    if (answer.model) this.setModel(answer.model, null);
    this.setStatus(answer.status);
    this.copyButton.hidden = this.text === "";
    const error = answer.error;
    if (answer.status === "failed" && error) {
      const code = error.status_code ? ` (${error.status_code})` : "";
      this.errorEl.textContent = `${error.message || "The provider failed."}${code}`;
      this.errorEl.hidden = false;
    } else {
      this.errorEl.hidden = true;
    }
    this.figures = figuresOf(answer);
    this.version += 1;
    this.renderFigures();
    this.render();
  }

  renderFigures() {
    const f = this.figures;
    const row = (metric, label, value) =>
      h("div", { class: "figure" }, h("dt", {}, label), h("dd", { dataset: { metric } }, value));
    const rows = [
      row("ttft", "First token", formatMs(f.ttft)),
      row("speed", "Speed", formatSpeed(f.speed)),
      row("total", "Total time", formatMs(f.total)),
      row("tokens", "Tokens", formatTokens(f)),
    ];
    if (f.cost != null) rows.push(row("cost", "Cost", formatCost(f.cost)));
    this.figuresEl.replaceChildren(...rows);
    if (f.estimated) {
      this.figuresEl.querySelector('[data-metric="tokens"]').title =
        "Estimated from the text that arrived: the provider reports tokens only at the end";
    }
    this.figuresEl.hidden = false;
  }

  async copy() {
    try {
      await navigator.clipboard.writeText(this.text);
      this.copyButton.replaceChildren(icon("check"));
      setTimeout(() => this.copyButton.replaceChildren(icon("copy")), 1200);
    } catch {
      // Clipboard refused (permissions): nothing useful to say.
    }
  }
}

// -- the comparison bars ------------------------------------------------------------------

const METRICS = [
  { key: "ttft", title: "First token", hint: "lower is better", lower: true, format: formatMs },
  { key: "speed", title: "Speed", hint: "higher is better", lower: false, format: formatSpeed },
  { key: "total", title: "Total time", hint: "lower is better", lower: true, format: formatMs },
];

class Comparison {
  constructor() {
    this.el = h("div", { class: "compare", hidden: true, "aria-label": "Comparison" });
  }

  // Redrawn only when a column's figures or status changed, never per frame of text.
  update(columns) {
    const key = columns.map((c) => `${c.provider}:${c.status}:${c.version}`).join();
    if (key === this.key) return;
    this.key = key;
    const measured = columns.filter((c) => c.figures);
    if (columns.length < 2 || measured.length === 0) {
      this.el.hidden = true;
      return;
    }
    this.el.hidden = false;
    this.el.replaceChildren(...METRICS.map((metric) => this.chart(metric, columns)));
  }

  chart(metric, columns) {
    const values = columns.map((c) => (c.figures ? c.figures[metric.key] : null));
    const known = values.filter((v) => v != null);
    const max = Math.max(...known, 0);
    // The best value as shown (values that look the same when rounded are equally good),
    // among complete answers only: a failed or stopped answer is never the fastest.
    const ranked = columns
      .map((c, i) => (c.figures && c.figures.rankable ? values[i] : null))
      .filter((v) => v != null);
    const best =
      ranked.length > 1
        ? metric.format(metric.lower ? Math.min(...ranked) : Math.max(...ranked))
        : null;
    const rows = columns.map((column, i) => {
      const value = values[i];
      const bar = h("span", { class: "bar" });
      bar.style.width = value != null && max > 0 ? `${Math.max(2, (value / max) * 100)}%` : "0";
      const label = value != null ? metric.format(value) : column.figures ? "—" : "…";
      const isBest = value != null && label === best && column.figures.rankable;
      return h(
        "div",
        {
          class: `bar-row${isBest ? " best" : ""}${column.figures && !column.figures.rankable ? " unranked" : ""}`,
          dataset: { provider: column.provider, status: column.status },
          title: column.figures && !column.figures.rankable ? `${column.status}: not ranked` : null,
        },
        h("span", { class: "bar-label" }, displayName(column.provider)),
        h("span", { class: "bar-track" }, bar),
        h("span", { class: "bar-value" }, label),
      );
    });
    return h(
      "figure",
      { class: "chart", dataset: { metric: metric.key } },
      h("figcaption", {}, metric.title, " ", h("small", {}, metric.hint)),
      ...rows,
    );
  }
}

// -- the turn -----------------------------------------------------------------------------

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
    this.live = false;
    this.ended = false;
    this.lastId = 0;
    this.source = null;
    this.recoveries = 0;
    this.recoverTimer = 0;

    this.promptEl = h("div", { class: "prompt-text" });
    this.statusEl = h("p", { class: "turn-status", "aria-live": "polite" });
    this.costEl = h("p", { class: "turn-cost", hidden: true });
    this.grid = h("div", { class: "answers" });
    this.comparison = new Comparison();
    this.el = h(
      "section",
      { class: "turn" },
      h("div", { class: "prompt" }, h("span", { class: "prompt-label" }, "You"), this.promptEl),
      this.grid,
      addModelControl(this),
      this.statusEl,
      this.comparison.el,
      this.costEl,
    );
    this.setPrompt(prompt);
  }

  setPrompt(prompt) {
    this.promptEl.textContent = prompt || "";
    this.promptEl.closest(".prompt").hidden = !prompt;
  }

  column(provider, model, simulated) {
    let column = this.columns.get(provider);
    if (!column) {
      column = new AnswerColumn(this, { provider, model, simulated });
      this.columns.set(provider, column);
      this.grid.append(column.el);
      this.grid.dataset.cols = String(this.columns.size);
      this.grid.style.setProperty("--cols", String(this.columns.size));
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
    view.ended = true;
    view.blind = group.answers.some((message) => message.label);
    const rank = (message) => {
      if (view.blind) return message.label.charCodeAt(0); // blind: by label, as it streamed
      const at = order.indexOf(message.provider);
      return at < 0 ? order.length : at;
    };
    const answers = [...group.answers].sort((a, b) => rank(a) - rank(b));
    for (const message of answers) {
      const key = view.blind ? message.label : message.provider;
      view.column(key, view.blind ? null : message.model, null).finish(message);
    }
    view.changed();
    return view;
  }

  removeColumn(provider) {
    const column = this.columns.get(provider);
    if (!column) return;
    column.el.remove();
    this.columns.delete(provider);
    this.grid.style.setProperty("--cols", String(this.columns.size));
  }

  changed() {
    syncAddModel(this);
    this.comparison.update([...this.columns.values()]);
    this.renderCost();
    for (const extension of turnExtensions) extension.changed(this);
    this.streamed();
  }

  // New text in a column: only the status line and the scroll position can have changed.
  streamed() {
    this.renderStatus();
    if (this.hooks.onChange) this.hooks.onChange(this);
  }

  // The turn's cost: the sum of its answers' costs, when the gateway reports them.
  renderCost() {
    const costs = [...this.columns.values()]
      .map((c) => (c.figures ? c.figures.cost : null))
      .filter((cost) => cost != null);
    this.costEl.hidden = costs.length === 0;
    if (costs.length) {
      const total = costs.reduce((sum, cost) => sum + cost, 0);
      this.costEl.textContent = `Turn cost ${formatCost(total)}`;
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
      for (const c of columns) counts[c.status] = (counts[c.status] || 0) + 1;
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

  async stop(providers) {
    if (!this.turnId || this.ended) return;
    const stopping = providers || [...this.columns.keys()];
    for (const name of stopping) {
      const column = this.columns.get(name);
      if (column && !FINISHED.has(column.status)) column.setStatus("stopping");
    }
    try {
      await cancelTurn(this.turnId, providers);
    } catch (error) {
      if (this.hooks.onError) this.hooks.onError(error);
    }
  }

  get running() {
    return this.live && !this.ended;
  }
}
