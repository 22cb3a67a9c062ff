// How a turn's columns are laid out: all side by side, two at a time (paging through them),
// or one at a time with a switcher (the phone's only view, where a swipe switches too). Any
// column can be shown at full width and back (Expand). With Sync scroll on (state.prefs), the
// reader scrolling one column scrolls the others of its turn to the same place.

import { h, icon } from "./dom.js";
import { on, state } from "./state.js";

const NARROW = 600; // px of turn width: below it, one answer at a time
const SWIPE = 60; // px a finger must travel sideways to switch answers
const MODES = [
  { mode: "all", label: "Side by side" },
  { mode: "pairs", label: "Two at a time" },
  { mode: "one", label: "One at a time" },
];

const layouts = new Set(); // every layout on screen, for the width watch and Sync scroll
const widths = typeof ResizeObserver === "function" ? new ResizeObserver(measure) : null;

function measure(entries) {
  for (const entry of entries) {
    const layout = entry.target.layout;
    if (layout) layout.setNarrow(entry.contentRect.width < NARROW);
  }
}

export class TurnLayout {
  constructor(view) {
    this.view = view;
    this.mode = "all";
    this.page = 0; // in "pairs": the first of the two shown
    this.focus = null; // in "one": the key of the column shown
    this.narrow = false;
    this.grid = h("div", { class: "answers" });
    this.modeButtons = MODES.map(({ mode, label }) =>
      h("button", { type: "button", class: "button-small", dataset: { mode }, onclick: () => this.setMode(mode) }, label),
    );
    this.prev = h("button", { type: "button", class: "button-icon", "aria-label": "Previous answers", onclick: () => this.step(-1) }, icon("left"));
    this.next = h("button", { type: "button", class: "button-icon", "aria-label": "Next answers", onclick: () => this.step(1) }, icon("right"));
    this.pageText = h("span", { class: "pager-text", "aria-live": "polite" });
    this.pager = h("div", { class: "pager", hidden: true }, this.prev, this.pageText, this.next);
    this.switcher = h("div", { class: "switcher", role: "group", "aria-label": "Answer shown", hidden: true });
    this.switcher.addEventListener("keydown", (event) => this.switchKey(event));
    this.modesEl = h("div", { class: "modes", role: "group", "aria-label": "Layout" }, ...this.modeButtons);
    this.toolbar = h("div", { class: "turn-tools", hidden: true }, this.modesEl, this.pager, this.switcher);
    this.bindSwipe();
  }

  // The turn's element, once it exists: its width is watched while it is on screen.
  attach(el) {
    el.layout = this;
    layouts.add(this);
    if (widths) widths.observe(el);
  }

  get expanded() {
    return this.mode === "one" && !this.narrow ? this.focus : null;
  }

  add(column) {
    this.grid.append(column.el);
    this.apply();
  }

  remove(column) {
    column.el.remove();
    if (this.focus === column.key) this.focus = null;
    this.apply();
  }

  setMode(mode) {
    this.mode = mode;
    if (mode === "one" && !this.view.columns.has(this.focus)) this.focus = this.keys()[0];
    this.apply();
  }

  toggleExpand(key) {
    if (this.expanded === key) this.setMode("all");
    else {
      this.focus = key;
      this.setMode("one");
    }
  }

  setNarrow(narrow) {
    if (narrow === this.narrow) return;
    this.narrow = narrow;
    this.apply();
  }

  step(by) {
    const keys = this.keys();
    if (this.effectiveMode() === "pairs") {
      this.page = Math.max(0, Math.min(keys.length - 2, this.page + 2 * by));
    } else {
      const at = Math.max(0, keys.indexOf(this.focus));
      this.focus = keys[(at + by + keys.length) % keys.length];
    }
    this.apply();
  }

  show(key) {
    this.focus = key;
    this.apply();
  }

  keys() {
    return [...this.view.columns.keys()];
  }

  effectiveMode() {
    const count = this.view.columns.size;
    if (count < 2) return "all";
    if (this.narrow) return "one";
    if (this.mode === "pairs" && count < 3) return "all";
    return this.mode;
  }

  // Which columns are shown, and the toolbar that goes with the mode.
  apply() {
    const keys = this.keys();
    const mode = this.effectiveMode();
    if (!keys.includes(this.focus)) this.focus = keys[0] ?? null;
    this.page = Math.max(0, Math.min(this.page, keys.length - 2));
    const shown = new Set(
      mode === "all" ? keys : mode === "pairs" ? keys.slice(this.page, this.page + 2) : [this.focus],
    );
    for (const [key, column] of this.view.columns) {
      column.el.hidden = !shown.has(key);
      column.syncExpand();
      column.expandButton.hidden = keys.length < 2 || this.narrow;
    }
    this.grid.dataset.mode = mode;
    this.grid.dataset.cols = String(shown.size);
    this.grid.style.setProperty("--cols", String(shown.size));
    this.toolbar.hidden = keys.length < 2;
    this.modesEl.hidden = this.narrow;
    for (const button of this.modeButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
      button.hidden = button.dataset.mode === "pairs" && keys.length < 3;
    }
    this.pager.hidden = mode !== "pairs";
    this.pageText.textContent = `${this.page + 1}–${Math.min(this.page + 2, keys.length)} of ${keys.length}`;
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page + 2 >= keys.length;
    this.switcher.hidden = mode !== "one";
    if (mode === "one") this.renderSwitcher();
  }

  // Called by the turn when a column's status or name may have changed.
  changed() {
    if (!this.switcher.hidden) this.renderSwitcher();
  }

  renderSwitcher() {
    const buttons = [...this.view.columns.values()].map((column) =>
      h(
        "button",
        {
          type: "button",
          class: "switch",
          dataset: { key: column.key, status: column.status },
          "aria-pressed": String(column.key === this.focus),
          tabindex: column.key === this.focus ? "0" : "-1",
          onclick: () => this.show(column.key),
        },
        column.displayName,
      ),
    );
    const focused = this.switcher.contains(document.activeElement);
    this.switcher.replaceChildren(...buttons);
    if (focused) this.switcher.querySelector('[aria-pressed="true"]')?.focus();
  }

  switchKey(event) {
    const by = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
    if (!by) return;
    event.preventDefault();
    this.step(by);
    this.switcher.querySelector('[aria-pressed="true"]')?.focus();
  }

  // One at a time: a sideways swipe over the answer shows the next or the previous one, unless
  // it started in something that scrolls sideways itself (a table, a code block).
  bindSwipe() {
    let start = null;
    this.grid.addEventListener("pointerdown", (event) => {
      const sideways = event.target.closest(".table-wrap, pre");
      start =
        event.pointerType === "mouse" || (sideways && sideways.scrollWidth > sideways.clientWidth)
          ? null
          : { x: event.clientX, y: event.clientY };
    });
    this.grid.addEventListener("pointerup", (event) => {
      if (!start || this.effectiveMode() !== "one") return;
      const dx = event.clientX - start.x;
      const dy = event.clientY - start.y;
      start = null;
      if (Math.abs(dx) > SWIPE && Math.abs(dx) > 2 * Math.abs(dy)) this.step(dx < 0 ? 1 : -1);
    });
    this.grid.addEventListener("pointercancel", () => {
      start = null;
    });
  }

  // The reader scrolled `column`: with Sync scroll on, the others follow to the same place.
  columnScrolled(column) {
    if (!state.prefs.syncScroll || this.effectiveMode() === "one") return;
    const from = column.bodyEl;
    const range = from.scrollHeight - from.clientHeight;
    const at = range > 0 ? from.scrollTop / range : 0;
    for (const other of this.view.columns.values()) {
      if (other === column || other.el.hidden) continue;
      const body = other.bodyEl;
      other.scrollTo(at * (body.scrollHeight - body.clientHeight));
    }
  }
}

// A turn taken off the screen stops being watched.
export function forgetLayouts(keep) {
  for (const layout of layouts) {
    if (!keep.has(layout.view.el)) {
      widths?.unobserve(layout.view.el);
      layouts.delete(layout);
    }
  }
}

on("prefs", ({ name }) => {
  if (name === "syncScroll") for (const layout of layouts) layout.apply();
});
