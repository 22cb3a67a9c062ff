// Each answer's reasoning, apart from its text: a collapsible section above the answer (the
// column's `aboveEl`) that streams live with the turn's `thinking` events, then says how long
// the model thought and how many tokens it took. It is open while the model thinks and folds
// away when the answer begins, unless the reader opened or closed it meanwhile; a stored answer
// shows it folded. In a blind turn before its vote, the time and tokens are hidden with the
// other figures (they tell models apart).

import { h } from "./dom.js";
import { MarkdownView } from "./markdown.js";
import { turnExtensions } from "./turn.js";

const keyOf = (data) => data.provider ?? data.label;

class Reasoning {
  constructor(column) {
    this.column = column;
    this.text = "";
    this.tokens = null;
    this.started = 0; // when the first piece arrived (a live answer), for "Thought for"
    this.seconds = null;
    this.touched = false; // the reader opened or closed it: leave it as they chose
    this.frame = 0;
    this.titleEl = h("span", { class: "reasoning-title" }, "Thinking…");
    this.metaEl = h("span", { class: "reasoning-meta" });
    this.textEl = h("div", { class: "reasoning-text" });
    this.markdown = new MarkdownView(this.textEl);
    this.el = h(
      "details",
      { class: "reasoning", dataset: { state: "thinking" } },
      h("summary", { class: "reasoning-summary" }, this.titleEl, this.metaEl),
      this.textEl,
    );
    this.setOpen(true);
    this.el.addEventListener("toggle", () => {
      if (this.settingOpen) this.settingOpen = false;
      else this.touched = true;
    });
    column.aboveEl.prepend(this.el);
  }

  setOpen(open) {
    if (this.el.open === open) return;
    this.settingOpen = true; // the toggle event this causes is not the reader's
    this.el.open = open;
  }

  // A piece of reasoning, live: drawn once per frame, as the answer's text is.
  append(text) {
    if (!this.started) this.started = performance.now();
    this.text += text;
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.markdown.update(this.text, true, true);
      });
    }
  }

  // The answer's first text arrived: the thinking is over.
  answerBegan() {
    if (this.seconds != null || !this.started) return;
    this.seconds = (performance.now() - this.started) / 1000;
    this.el.dataset.state = "done";
    if (!this.touched) this.setOpen(false);
    this.render();
  }

  // The stored reasoning (a done event, or the conversation): the whole text and its tokens.
  finish(thinking, tokens) {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (thinking != null) this.text = thinking;
    this.tokens = tokens ?? null;
    this.el.dataset.state = "done";
    if (this.started && this.seconds == null) this.seconds = (performance.now() - this.started) / 1000;
    if (!this.touched && !this.started) this.setOpen(false);
    this.markdown.update(this.text, false, false);
    this.render();
  }

  render() {
    const thinking = this.el.dataset.state === "thinking";
    this.titleEl.textContent = thinking
      ? "Thinking…"
      : this.seconds != null
        ? `Thought for ${formatSeconds(this.seconds)}`
        : "Reasoning";
    const parts = [];
    if (!this.column.turn.sealed) {
      if (this.tokens != null) parts.push(`${this.tokens.toLocaleString("en")} tokens`);
    }
    this.metaEl.textContent = parts.length ? ` · ${parts.join(" · ")}` : "";
    // Seconds tell models apart as speeds do: hidden while a blind turn is sealed.
    if (this.column.turn.sealed && this.seconds != null && !thinking) this.titleEl.textContent = "Reasoning";
  }
}

function formatSeconds(seconds) {
  return seconds < 10 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds)} s`;
}

function reasoningOf(column) {
  if (!column.reasoning) column.reasoning = new Reasoning(column);
  return column.reasoning;
}

turnExtensions.push({
  event(view, type, data) {
    if (type !== "thinking") return;
    const column = view.columns.get(keyOf(data));
    if (column) reasoningOf(column).append(data.text || "");
  },

  // A frame of answer text: the columns whose answer began stop thinking.
  streamed(view) {
    for (const column of view.columns.values()) {
      if (column.reasoning && column.text !== "") column.reasoning.answerBegan();
    }
  },

  // A done (live), a stored answer, a reveal: the stored reasoning is the truth.
  changed(view) {
    for (const column of view.columns.values()) {
      // The done may come before a frame of its text was drawn: the answer began all the same.
      if (column.reasoning && column.text !== "") column.reasoning.answerBegan();
      const answer = column.answer;
      if (answer && answer.thinking) {
        const tokens = answer.usage ? answer.usage.reasoning_tokens : null;
        reasoningOf(column).finish(answer.thinking, tokens);
      } else if (column.reasoning) {
        column.reasoning.render();
      }
    }
  },
});
