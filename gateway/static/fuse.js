// Fuse: a "Fuse with ▾" button under a finished turn (its menu: the providers the gateway
// offers, one of which judges), and the fused answer in full width under the columns. The
// fusion's events come on the turn's own stream with "provider": "fuse" (turn.js hands them
// here): start names the judge, deltas stream its text, done gives the stored answer and the
// message ids it drew on, shown as buttons that bring those answers into view. A reopened
// conversation shows each turn's latest fusion (a stored message of kind "fuse").
// turn.js tells this module about every turn on screen (turnExtensions).

import { api } from "./api.js";
import { h } from "./dom.js";
import { formatCost } from "./figures.js";
import { MarkdownView } from "./markdown.js";
import { reportError } from "./notice.js";
import { popover } from "./popover.js";
import { displayName, providers } from "./providers.js";
import { follow } from "./retry.js";
import { turnExtensions } from "./turn.js";

const fuseTurn = (turnId, body) => api("POST", `/turns/${encodeURIComponent(turnId)}/fuse`, body);

let serial = 0;

class FusionBlock {
  constructor(view) {
    this.view = view;
    this.status = null; // null: no fusion yet; else streaming | complete | failed | cancelled
    this.text = "";
    const id = `fusion-${++serial}`;
    this.button = h("button", { type: "button", class: "button-small fuse-button" }, "Fuse with ▾");
    this.menu = h("div", { class: "fuse-menu", role: "group", "aria-label": "Fuse the answers with" });
    this.popover = popover(this.button, this.menu, { onOpen: () => this.fillMenu() });
    this.controls = h("div", { class: "fuse-controls", hidden: true }, this.button, this.menu);
    this.title = h("h3", { class: "fusion-title", id: `${id}-title` }, "Fused answer");
    this.meta = h("p", { class: "fusion-meta" });
    this.body = h("div", { class: "fusion-text answer-text" });
    this.markdown = new MarkdownView(this.body);
    this.sources = h("div", { class: "fusion-sources" });
    this.answerEl = h(
      "section",
      { class: "fusion", id, hidden: true, "aria-labelledby": `${id}-title` },
      this.title,
      this.meta,
      this.body,
      this.sources,
    );
    this.el = h("div", { class: "fuse" }, this.controls, this.answerEl);
  }

  fillMenu() {
    this.menu.replaceChildren(
      ...providers().map((p) =>
        h(
          "button",
          {
            type: "button",
            class: "button-small fuse-judge",
            dataset: { judge: p.name },
            onclick: () => this.start(p.name),
          },
          displayName(p.name),
        ),
      ),
    );
  }

  // The button shows under a finished turn with an answer to fuse, and not while one streams
  // (nor, in a blind turn, before its vote: the API would refuse).
  update() {
    const view = this.view;
    const answered = [...view.columns.values()].some((c) => c.status === "complete");
    const fusing = this.status === "streaming" || this.status === "asking";
    this.controls.hidden = !(view.turnId && view.ended && !view.sealed && answered && !fusing);
    if (this.controls.hidden) this.popover.close(false);
  }

  async start(judge) {
    this.popover.close(false);
    const before = { status: this.status, text: this.text };
    this.status = "asking";
    this.update();
    let started;
    try {
      started = await fuseTurn(this.view.turnId, { model: judge });
    } catch (error) {
      this.status = before.status;
      this.update();
      reportError(error);
      return;
    }
    this.begin({ judge, model: null });
    follow(this.view, started);
    this.view.changed();
  }

  begin(data) {
    this.status = "streaming";
    this.text = "";
    this.markdown.reset();
    this.fusedFrom = null;
    this.sources.replaceChildren();
    this.answerEl.hidden = false;
    this.answerEl.setAttribute("aria-busy", "true");
    this.showMeta(data);
    this.update();
  }

  append(text) {
    if (this.status !== "streaming") this.begin({});
    this.text += text;
    this.markdown.update(this.text, true);
  }

  finish(answer) {
    this.status = answer.status;
    this.text = answer.content || "";
    this.answerEl.hidden = false;
    this.answerEl.removeAttribute("aria-busy");
    this.markdown.update(this.text, false, false);
    if (!this.text) this.body.append(h("p", { class: "answer-empty" }, "(no text)"));
    this.showMeta(answer);
    this.fusedFrom = answer.fused_from || [];
    this.showSources();
    this.update();
  }

  showMeta(answer) {
    if (answer.judge) this.judge = answer.judge;
    if (answer.model) this.model = answer.model;
    const parts = [this.judge ? `Fused by ${displayName(this.judge)}` : "Fusing"];
    if (this.model) parts.push(this.model);
    if (this.status && this.status !== "complete") parts.push(this.status);
    if (answer.error && answer.error.message) parts.push(answer.error.message);
    if (answer.cost_usd != null) parts.push(formatCost(answer.cost_usd));
    this.meta.textContent = parts.join(" · ");
  }

  // The answers it drew on: a button each, bringing that answer's column into view.
  showSources() {
    const ids = this.fusedFrom || [];
    const columns = [...this.view.columns.values()];
    const idOf = (column) => column.answer && (column.answer.message_id ?? column.answer.id);
    const used = ids.map((id) => columns.find((column) => idOf(column) === id)).filter(Boolean);
    this.sources.replaceChildren(
      ...(used.length ? [h("span", { class: "fusion-sources-label" }, "Drew on:")] : []),
      ...used.map((column) =>
        h(
          "button",
          {
            type: "button",
            class: "button-small fusion-source",
            onclick: () => {
              column.el.scrollIntoView({ block: "nearest", inline: "nearest" });
              column.el.classList.add("drew-on");
              setTimeout(() => column.el.classList.remove("drew-on"), 1500);
            },
          },
          column.displayName,
        ),
      ),
    );
  }
}

const blocks = new WeakMap();

function blockOf(view) {
  let block = blocks.get(view);
  if (!block) {
    block = new FusionBlock(view);
    blocks.set(view, block);
    view.blockEl.append(block.el);
  }
  return block;
}

turnExtensions.push({
  changed(view) {
    if (!view.turnId) return;
    const block = blockOf(view);
    if (view.storedFusion && block.status === null) block.finish(view.storedFusion);
    else if (block.fusedFrom) block.showSources(); // its columns may have come since
    block.update();
  },
  event(view, type, data) {
    if (data.provider !== "fuse") return;
    const block = blockOf(view);
    if (type === "start") block.begin(data);
    else if (type === "delta") block.append(data.text || "");
    else if (type === "done") block.finish(data);
  },
});
