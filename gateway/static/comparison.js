// The comparison under a turn's columns: first token, speed and total time as bars on one
// scale per metric, the best in bold. A failed or stopped answer is drawn hatched and is never
// the best. A blind turn shows none of it before its vote: speed tells who answered.

import { h } from "./dom.js";
import { formatMs, formatSpeed } from "./figures.js";

const METRICS = [
  { key: "ttft", title: "First token", hint: "lower is better", lower: true, format: formatMs },
  { key: "speed", title: "Speed", hint: "higher is better", lower: false, format: formatSpeed },
  { key: "total", title: "Total time", hint: "lower is better", lower: true, format: formatMs },
];

export class Comparison {
  constructor() {
    this.el = h("div", { class: "compare", hidden: true, role: "group", "aria-label": "Comparison" });
  }

  // Redrawn only when a column's figures, status or name changed, never per frame of text.
  update(columns, sealed) {
    const key = `${sealed}|${columns.map((c) => `${c.key}:${c.who}:${c.status}:${c.version}`).join()}`;
    if (key === this.key) return;
    this.key = key;
    const measured = columns.filter((c) => c.figures);
    if (sealed || columns.length < 2 || measured.length === 0) {
      this.el.hidden = true;
      return;
    }
    this.el.hidden = false;
    this.el.replaceChildren(...METRICS.map((metric) => chart(metric, columns)));
  }
}

function chart(metric, columns) {
  const values = columns.map((c) => (c.figures ? c.figures[metric.key] : null));
  const known = values.filter((v) => v != null);
  const max = Math.max(...known, 0);
  // The best value as shown (values that look the same when rounded are equally good),
  // among complete answers only: a failed or stopped answer is never the fastest.
  const ranked = columns
    .map((c, i) => (c.figures && c.figures.rankable ? values[i] : null))
    .filter((v) => v != null);
  const best =
    ranked.length > 1 ? metric.format(metric.lower ? Math.min(...ranked) : Math.max(...ranked)) : null;
  const rows = columns.map((column, i) => {
    const value = values[i];
    const bar = h("span", { class: "bar" });
    bar.style.width = value != null && max > 0 ? `${Math.max(2, (value / max) * 100)}%` : "0";
    const label = value != null ? metric.format(value) : column.figures ? "—" : "…";
    const isBest = value != null && label === best && column.figures.rankable;
    const unranked = column.figures && !column.figures.rankable;
    return h(
      "div",
      {
        class: `bar-row${isBest ? " best" : ""}${unranked ? " unranked" : ""}`,
        dataset: { provider: column.provider || "", status: column.status },
        title: unranked ? `${column.status}: not ranked` : null,
      },
      h("span", { class: "bar-label" }, column.displayName),
      h("span", { class: "bar-track" }, bar),
      h("span", { class: "bar-value" }, label),
      isBest ? h("span", { class: "visually-hidden" }, " (the best)") : null,
    );
  });
  return h(
    "figure",
    { class: "chart", dataset: { metric: metric.key } },
    h("figcaption", {}, metric.title, " ", h("small", {}, metric.hint)),
    ...rows,
  );
}
