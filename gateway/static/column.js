// One answer's column: its header (name, model, status, and Stop, Retry, Copy, Expand), its
// text as it streams, and its figures once it is done.
//
// A column is keyed by its provider, or in a blind turn by its label (A, B, …), which is all it
// shows until the vote reveals who answered (reveal()). Its body scrolls on its own and follows
// new text unless the reader scrolled it; once the answer is done it opens at its top.
// Slots for what other modules add: `aboveEl` (before the answer's text, e.g. its reasoning)
// and `belowEl` (after it); `badgeEl` in the header (the vote's verdict on it).

import { h, icon, linkified } from "./dom.js";
import { costShown, figuresOf, formatCost, formatMs, formatSpeed, tokenParts } from "./figures.js";
import { MarkdownView } from "./markdown.js";
import { displayName } from "./providers.js";
import { retryButton, syncRetry } from "./retry.js";

const STATUS_LABELS = {
  waiting: "waiting",
  streaming: "streaming",
  stopping: "stopping…",
  complete: "complete",
  failed: "failed",
  cancelled: "stopped",
  unknown: "unknown",
};
export const FINISHED = new Set(["complete", "failed", "cancelled"]);
const NEAR_BOTTOM = 40; // px: a reader this close to the end is still following the text
// A section of sources at the end of an answer: only one provider writes one, so a blind turn
// hides it until the vote.
const SOURCES = /^ {0,3}(?:#{1,6}[ \t]+)?(?:\*\*)?(?:sources|references|citations)(?:\*\*)?:?[ \t]*#*[ \t]*$/im;

let serial = 0;

export class AnswerColumn {
  constructor(turn, { key, provider = null, label = null, model = null, simulated = null }) {
    this.turn = turn;
    this.key = key;
    this.provider = provider;
    this.label = label;
    this.simulated = simulated;
    this.text = "";
    this.status = "waiting";
    this.figures = null;
    this.version = 0; // counts finishes, so the comparison redraws only when figures change
    this.frame = 0;
    this.follow = true;
    this.scrollSet = null; // the scrollTop this code set last: its scroll event is not the reader's
    const id = `answer-${++serial}`;

    this.labelEl = h("span", { class: "answer-label", hidden: !label }, label || "");
    this.nameEl = h("h3", { class: "answer-name", id: `${id}-name` });
    this.badgeEl = h("span", { class: "answer-badge", hidden: true });
    this.modelEl = h("span", { class: "answer-model" });
    this.simEl = h("span", { class: "tag tag-sim", hidden: true }, "simulated");
    this.statusEl = h("span", { class: "status", role: "status" });
    this.stopButton = this.iconButton("stop-one", "stop", () => this.turn.stop([this.key]));
    this.copyButton = this.iconButton("copy", "copy", () => this.copy());
    this.expandButton = this.iconButton("expand", "expand", () => this.turn.layout.toggleExpand(this.key));
    this.retryButton = retryButton(this);
    this.aboveEl = h("div", { class: "answer-above" });
    this.textEl = h("div", { class: "answer-text" });
    this.markdown = new MarkdownView(this.textEl);
    this.belowEl = h("div", { class: "answer-below" });
    this.placeholderEl = h("p", { class: "answer-placeholder" });
    this.sealedEl = h("p", { class: "answer-sealed", hidden: true }, "Its sources are hidden until you vote.");
    this.errorEl = h("p", { class: "answer-error", role: "alert", hidden: true });
    this.figuresEl = h("dl", { class: "figures", hidden: true });
    this.bodyEl = h(
      "div",
      // Focusable (it scrolls, by keyboard too) and named by its column: a group, not a
      // landmark, as every turn has a column of each name.
      { class: "answer-body", tabindex: "0", role: "group", "aria-labelledby": this.nameEl.id },
      this.aboveEl,
      this.placeholderEl,
      this.textEl,
      this.sealedEl,
      this.errorEl,
      this.belowEl,
    );
    this.bodyEl.addEventListener("scroll", () => this.scrolled(), { passive: true });

    this.el = h(
      "article",
      { class: "answer", id, dataset: { key, status: "waiting" }, "aria-labelledby": this.nameEl.id },
      h(
        "header",
        { class: "answer-head" },
        // The name never gives way to the buttons: they wrap below it when both do not fit.
        h(
          "div",
          { class: "answer-row" },
          this.labelEl,
          this.nameEl,
          h(
            "div",
            { class: "answer-actions" },
            this.stopButton,
            this.retryButton,
            this.copyButton,
            this.expandButton,
          ),
        ),
        h("div", { class: "answer-sub" }, this.badgeEl, this.statusEl, this.modelEl, this.simEl),
      ),
      this.bodyEl,
      this.figuresEl,
    );
    this.showName();
    this.setModel(model, simulated);
    this.setStatus("waiting");
  }

  iconButton(kind, iconName, onclick) {
    return h("button", { type: "button", class: `button-icon ${kind}`, hidden: true, onclick }, icon(iconName));
  }

  // The name people know it by; in a blind turn before its vote, "Answer A".
  get displayName() {
    return this.provider ? displayName(this.provider) : `Answer ${this.label}`;
  }

  get who() {
    return this.provider || this.label;
  }

  showName() {
    const name = this.displayName;
    this.labelEl.hidden = !this.label || this.turn.sealed; // sealed: the name is "Answer A"
    this.nameEl.textContent = name;
    this.nameEl.title = name;
    if (this.provider) this.el.dataset.provider = this.provider;
    const named = (verb) => `${verb} ${name}`;
    this.stopButton.title = `Stop ${name} (the others go on)`;
    this.stopButton.setAttribute("aria-label", named("Stop"));
    this.copyButton.title = "Copy this answer";
    this.copyButton.setAttribute("aria-label", `Copy ${name}'s answer`);
    this.retryButton.setAttribute("aria-label", `Retry ${name}`);
    this.syncExpand();
  }

  // Who a blind column was, once the turn is voted on.
  reveal({ provider, model, simulated }) {
    this.provider = provider;
    this.simulated = simulated ?? this.simulated;
    this.showName();
    this.setModel(model, simulated);
    this.renderFigures();
    this.render();
  }

  syncExpand() {
    const expanded = this.turn.layout && this.turn.layout.expanded === this.key;
    const verb = expanded ? "Back to all answers" : `Show ${this.displayName} at full width`;
    this.expandButton.replaceChildren(icon(expanded ? "collapse" : "expand"));
    this.expandButton.title = verb;
    this.expandButton.setAttribute("aria-label", verb);
    this.expandButton.setAttribute("aria-pressed", String(Boolean(expanded)));
    this.expandButton.hidden = this.turn.columns.size < 2;
  }

  setModel(model, simulated) {
    if (model) {
      this.model = model; // what asking it again names (an edit's chips)
      this.modelEl.textContent = model;
    }
    if (simulated != null) this.simulated = simulated;
    const sealed = this.turn.sealed;
    this.simEl.hidden = !(this.simulated && !sealed);
    this.modelEl.hidden = sealed;
    this.modelEl.title = `${this.modelEl.textContent}${this.simulated ? " (simulated)" : ""}`;
  }

  setBadge(text, kind) {
    this.badgeEl.textContent = text || "";
    this.badgeEl.className = `answer-badge${kind ? ` badge-${kind}` : ""}`;
    this.badgeEl.hidden = !text;
    this.el.classList.toggle("voted-best", kind === "best");
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
    this.aboveEl.replaceChildren(); // what other modules drew above the old answer (reasoning)
    this.reasoning = null;
    this.answer = null;
    this.text = "";
    this.figures = null;
    this.figuresEl.hidden = true;
    this.errorEl.hidden = true;
    this.copyButton.hidden = true;
    this.follow = true;
    this.markdown.reset();
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
      const shown = this.shownText();
      this.markdown.update(shown, streaming && shown === this.text, streaming);
      if (streaming && this.follow) this.scrollTo(this.bodyEl.scrollHeight);
    }
    if (streaming) this.turn.streamed();
    else this.turn.changed();
  }

  // The text as the reader may see it: a blind turn's hides a closing section of sources.
  shownText() {
    const match = this.turn.sealed ? SOURCES.exec(this.text) : null;
    this.sealedEl.hidden = !match;
    return match ? this.text.slice(0, match.index).trimEnd() : this.text;
  }

  // A `done` event, or a stored assistant message: both carry the final, stored answer.
  finish(answer) {
    const streamed = this.text !== "" && this.turn.live;
    this.answer = answer;
    this.text = answer.content || "";
    if (answer.model) this.setModel(answer.model, answer.simulated ?? null);
    else if (answer.simulated != null) this.setModel(null, answer.simulated);
    this.setStatus(answer.status);
    this.copyButton.hidden = this.text === "";
    this.showError(answer.status === "failed" ? answer.error : null);
    this.figures = figuresOf(answer);
    this.version += 1;
    this.renderFigures();
    this.render();
    // Done: it opens at its top, unless the reader has scrolled it meanwhile.
    if (streamed && this.follow) this.scrollTo(0);
    this.follow = false;
  }

  showError(error) {
    this.errorEl.hidden = !error;
    if (!error) return;
    const message = error.message || "The provider failed.";
    const code = error.status_code && !message.includes(String(error.status_code));
    this.errorEl.replaceChildren(...linkified(code ? `${message} (${error.status_code})` : message));
  }

  renderFigures() {
    const f = this.figures;
    if (!f) return;
    const row = (metric, label, ...value) =>
      h("div", { class: "figure" }, h("dt", {}, label), h("dd", { dataset: { metric } }, ...value));
    const tokens = tokenParts(f).map((part) => h("span", { class: "part" }, part));
    const rows = [
      row("ttft", "First token", formatMs(f.ttft)),
      row("speed", "Speed", formatSpeed(f.speed)),
      row("total", "Total time", formatMs(f.total)),
      row("tokens", "Tokens", ...tokens.flatMap((part, i) => (i ? [" · ", part] : [part]))),
    ];
    if (costShown(f.cost, this.simulated)) rows.push(row("cost", "Cost (est.)", formatCost(f.cost)));
    this.figuresEl.replaceChildren(...rows);
    if (f.estimated) {
      this.figuresEl.querySelector('[data-metric="tokens"]').title =
        "Estimated from the text that arrived: the provider reports tokens only at the end";
    }
    this.figuresEl.hidden = this.turn.sealed;
  }

  // -- scrolling -----------------------------------------------------------------------------

  scrollTo(top) {
    this.bodyEl.scrollTop = top;
    this.scrollSet = this.bodyEl.scrollTop;
  }

  scrolled() {
    const { scrollHeight, scrollTop, clientHeight } = this.bodyEl;
    if (this.scrollSet != null && Math.abs(scrollTop - this.scrollSet) < 2) {
      this.scrollSet = null;
      return; // our own scroll, not the reader's
    }
    this.scrollSet = null;
    if (!FINISHED.has(this.status)) this.follow = scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM;
    this.turn.layout.columnScrolled(this);
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
