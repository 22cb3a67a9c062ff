// Markdown as model answers use it, built as DOM nodes: no HTML is ever parsed, so anything a
// model writes (a <script>, an onerror=, an entity) is shown as the text it is.
//
// Blocks: paragraphs (single newlines kept), ATX headings, fenced code (``` or ~~~) with a
// language label and a copy button, bullet and ordered lists (nested by indentation, task
// boxes), blockquotes, GitHub tables, rules. Inline: see markdown-inline.js.
//
// Streaming: MarkdownView renders incrementally. The text is cut into top-level blocks; a
// block is finished once a later block has begun on a complete line, and a finished block is
// built once and kept. Each update re-reads only the open last block, so the cost of a delta
// does not grow with the length of the answer.

import { h, icon } from "./dom.js";
import { inline } from "./markdown-inline.js";

const FENCE = /^( {0,3})(`{3,}|~{3,})[ \t]*([^\s`]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?/;
const ITEM = /^( *)([-*+]|(\d{1,9})[.)])([ \t]+|$)/;
const TABLE_DELIMITER = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const TASK = /^\[([ xX])\][ \t]+/;

const blank = (line) => line.trim() === "";
const indentOf = (line) => line.length - line.trimStart().length;
const detab = (line) => (line.includes("\t") ? line.replace(/^\t+/, (t) => "    ".repeat(t.length)) : line);

/** Render the whole of `text` into `container` (not incremental). */
export function renderMarkdown(text, container) {
  container.replaceChildren(...markdownNodes(text));
}

// The answer's outline: its headings are h4-h6, below the page's own (h1-h3), each at most one
// level deeper than the one before it and levelled from its first, so that an answer opening
// with "###" does not skip from the column's h3 to an h6.
const newOutline = () => ({ first: null, last: 3 });
let outline = newOutline();

/** open: `text` is still streaming (a table whose delimiter row has not come yet is one). */
export function markdownNodes(text, within = newOutline(), open = false) {
  const before = outline;
  outline = within;
  try {
    return blocks(text.split("\n").map(detab), open);
  } finally {
    outline = before;
  }
}

function headingTag(level) {
  if (outline.first == null) outline.first = level;
  const rank = Math.max(4, Math.min(6, 4 + level - outline.first, outline.last + 1));
  outline.last = rank;
  return `h${rank}`;
}

// -- cutting lines into blocks --------------------------------------------------------------

function blocks(lines, open = false) {
  const out = [];
  const found = segments(lines);
  for (const [i, segment] of found.entries()) {
    const last = open && i === found.length - 1;
    out.push(...(last && tableComing(lines, segment) ? [table(tableHead(lines[segment.start]))] : build(segment, lines)));
  }
  return out;
}

// A streaming paragraph that is a table's header row, its delimiter row not (all) there yet.
function tableComing(lines, segment) {
  if (segment.type !== "paragraph" || segment.end - segment.start > 2) return false;
  const head = lines[segment.start];
  if (!head.trim().startsWith("|") || cells(head).length < 2) return false;
  const next = lines[segment.start + 1];
  return next === undefined || /^ {0,3}\|?[ \t:|-]*$/.test(next);
}

function tableHead(line) {
  return [line, cells(line).map(() => "---").join("|")];
}

// Top-level blocks as {type, start, end} line ranges; blank lines between them belong to none.
export function segments(lines, from = 0) {
  const out = [];
  let i = from;
  while (i < lines.length) {
    if (blank(lines[i])) {
      i += 1;
      continue;
    }
    const segment = segmentAt(lines, i);
    out.push(segment);
    i = segment.end;
  }
  return out;
}

function segmentAt(lines, i) {
  const line = lines[i];
  const fence = FENCE.exec(line);
  if (fence) {
    const marker = fence[2];
    let j = i + 1;
    while (j < lines.length && !closesFence(lines[j], marker)) j += 1;
    const closed = j < lines.length;
    return { type: "fence", start: i, end: closed ? j + 1 : j, closed, lang: fence[3], indent: fence[1].length };
  }
  if (HEADING.test(line)) return { type: "heading", start: i, end: i + 1 };
  if (RULE.test(line)) return { type: "rule", start: i, end: i + 1 };
  if (QUOTE.test(line)) {
    let j = i + 1;
    while (j < lines.length && QUOTE.test(lines[j])) j += 1;
    return { type: "quote", start: i, end: j };
  }
  if (tableStarts(lines, i)) {
    let j = i + 2;
    while (j < lines.length && !blank(lines[j]) && lines[j].includes("|")) j += 1;
    return { type: "table", start: i, end: j };
  }
  if (isItem(line)) return { type: "list", start: i, end: listEnd(lines, i) };
  let j = i + 1;
  while (j < lines.length && !blank(lines[j]) && !interrupts(lines, j)) j += 1;
  return { type: "paragraph", start: i, end: j };
}

function closesFence(line, marker) {
  const trimmed = line.trim();
  return indentOf(line) < 4 && trimmed.length >= marker.length && trimmed === marker[0].repeat(trimmed.length);
}

function isItem(line) {
  const item = ITEM.exec(line);
  return Boolean(item) && item[1].length <= 3 && !RULE.test(line);
}

function tableStarts(lines, i) {
  const next = lines[i + 1];
  if (next === undefined || !lines[i].includes("|") || !TABLE_DELIMITER.test(next)) return false;
  if (!next.includes("|") && cells(lines[i]).length < 2) return false;
  return cells(lines[i]).length === cells(next).length;
}

// A line that starts a block of its own, ending a paragraph without a blank line before it.
function interrupts(lines, j) {
  const line = lines[j];
  return (
    FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) ||
    isItem(line) || tableStarts(lines, j)
  );
}

// A list goes on through its items, their indented content (blank lines included when more
// indented content or another item follows) and lazy continuation lines.
function listEnd(lines, i) {
  const base = indentOf(lines[i]);
  let j = i + 1;
  while (j < lines.length) {
    const line = lines[j];
    if (blank(line)) {
      let k = j + 1;
      while (k < lines.length && blank(lines[k])) k += 1;
      if (k < lines.length && (indentOf(lines[k]) > base || isItem(lines[k]))) {
        j = k;
        continue;
      }
      break;
    }
    if (indentOf(line) > base || isItem(line) || !interrupts(lines, j)) j += 1;
    else break;
  }
  return j;
}

// -- building a block -------------------------------------------------------------------------

function build(segment, lines) {
  const part = lines.slice(segment.start, segment.end);
  switch (segment.type) {
    case "fence": {
      const body = part.slice(1, segment.closed ? -1 : undefined);
      const strip = segment.indent;
      const code = body.map((l) => (strip ? l.replace(new RegExp(`^ {0,${strip}}`), "") : l));
      return [codeBlock(segment.lang, code.join("\n"))];
    }
    case "heading": {
      const match = HEADING.exec(part[0]);
      const level = match[1].length;
      return [h(headingTag(level), { class: `md-heading md-h${level}` }, inline(match[2] || ""))];
    }
    case "rule":
      return [h("hr")];
    case "quote":
      return [h("blockquote", {}, blocks(part.map((l) => l.replace(QUOTE, ""))))];
    case "table":
      return [table(part)];
    case "list":
      return lists(part);
    default:
      return [h("p", {}, inline(part.map((l) => l.replace(/^ {1,3}/, "")).join("\n")))];
  }
}

function codeBlock(lang, code) {
  const codeEl = h("code", {}, code);
  const head = h("div", { class: "code-head" });
  if (lang) {
    codeEl.dataset.lang = lang;
    head.dataset.lang = lang; // shown by CSS, so the label is not part of the answer's text
  }
  const copy = h(
    "button",
    {
      type: "button",
      class: "button-icon code-copy",
      title: "Copy this code",
      "aria-label": lang ? `Copy the ${lang} code` : "Copy the code",
    },
    icon("copy"),
  );
  copy.addEventListener("click", () => copyCode(code, copy));
  head.append(copy);
  // Focusable: a block wider than its column scrolls sideways, by keyboard too.
  return h("div", { class: "codeblock" }, head, h("pre", { class: "code", tabindex: "0" }, codeEl));
}

async function copyCode(code, button) {
  try {
    await navigator.clipboard.writeText(code);
    button.replaceChildren(icon("check"));
    button.dataset.copied = "true";
    setTimeout(() => {
      button.replaceChildren(icon("copy"));
      delete button.dataset.copied;
    }, 1200);
  } catch {
    // Clipboard refused (permissions): nothing useful to say.
  }
}

function cells(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

function table(part) {
  const head = cells(part[0]);
  const aligns = cells(part[1]).map((cell) => {
    const left = cell.startsWith(":");
    const right = cell.endsWith(":");
    return left && right ? "center" : right ? "right" : left ? "left" : null;
  });
  const row = (tag, values) =>
    h(
      "tr",
      {},
      head.map((_, i) =>
        h(tag, { class: aligns[i] ? `align-${aligns[i]}` : null }, inline(values[i] ?? "")),
      ),
    );
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "group", "aria-label": "Table" },
    h(
      "table",
      {},
      h("thead", {}, row("th", head)),
      part.length > 2 ? h("tbody", {}, part.slice(2).map((line) => row("td", cells(line)))) : null,
    ),
  );
}

// A list segment: items at its own indentation; deeper lines are an item's content, parsed
// again as blocks (nested lists, code, paragraphs). Lenient like most renderers: two spaces
// of indentation nest under any marker. A change of marker kind starts a new list.
function lists(part) {
  const base = indentOf(part[0]);
  const loose = part.some(blank);
  const out = [];
  let list = null;
  let item = null;
  const finishItem = () => {
    if (item) list.el.append(listItem(item.lines, loose));
    item = null;
  };
  for (const line of part) {
    const match = ITEM.exec(line);
    if (match && indentOf(line) <= base + 1 && !RULE.test(line)) {
      finishItem();
      const ordered = match[3] !== undefined;
      const kind = ordered ? match[2].slice(-1) : match[2];
      if (!list || list.kind !== kind) {
        const attrs = ordered && Number(match[3]) !== 1 ? { start: String(Number(match[3])) } : {};
        list = { kind, el: h(ordered ? "ol" : "ul", attrs) };
        out.push(list.el);
      }
      const width = match[0].length;
      item = { lines: [line.slice(width)], indent: Math.min(width, base + 4) };
    } else if (item) {
      const indent = indentOf(line);
      item.lines.push(blank(line) ? "" : line.slice(Math.min(indent, item.indent)));
    }
  }
  finishItem();
  return out;
}

function listItem(lines, loose) {
  const li = h("li");
  const task = TASK.exec(lines[0]);
  if (task) {
    lines = [lines[0].slice(task[0].length), ...lines.slice(1)];
    li.classList.add("task");
    li.append(h("span", { class: "task-box", "aria-hidden": "true" }, task[1] === " " ? "☐ " : "☑ "));
  }
  for (const node of blocks(lines)) {
    // A tight list's paragraphs are its items' plain text.
    if (!loose && node.tagName === "P") li.append(...node.childNodes);
    else li.append(node);
  }
  return li;
}

// -- incremental rendering ----------------------------------------------------------------------

export class MarkdownView {
  constructor(container) {
    this.el = container;
    this.reset();
  }

  reset() {
    this.source = "";
    this.done = 0; // characters of source whose blocks are finished and on screen
    this.open = []; // the nodes of the open block(s), redrawn on each update
    this.outline = newOutline(); // the headings' levels so far, in the finished blocks
    this.el.replaceChildren();
  }

  /** Show `text`. appended: the caller knows it extends the text shown before; streaming:
   * more is coming (a table's header row is drawn as one before its delimiter comes). */
  update(text, appended = false, streaming = appended) {
    if (text === this.source) return;
    const extends_ =
      appended || (text.length >= this.done && text.startsWith(this.source.slice(0, this.done)));
    if (!extends_) this.reset();
    this.source = text;
    this.finishBlocks();
    const rest = text.slice(this.done);
    const nodes = markdownNodes(rest, { ...this.outline }, streaming);
    for (const node of this.open) node.remove();
    this.el.append(...nodes);
    this.open = nodes;
  }

  // The complete lines after the finished blocks: every block but the last one is finished.
  finishBlocks() {
    const lastNewline = this.source.lastIndexOf("\n");
    if (lastNewline < this.done) return;
    const raw = this.source.slice(this.done, lastNewline).split("\n");
    const lines = raw.map(detab);
    const found = segments(lines);
    if (found.length < 2) return;
    const last = found[found.length - 1];
    const finished = [];
    const before = outline;
    outline = this.outline;
    try {
      for (const segment of found.slice(0, -1)) finished.push(...build(segment, lines));
    } finally {
      outline = before;
    }
    for (const node of this.open) node.remove();
    this.open = [];
    this.el.append(...finished);
    let chars = 0;
    for (let i = 0; i < last.start; i++) chars += raw[i].length + 1;
    this.done += chars;
  }
}
