// A deliberately tiny Markdown renderer that builds DOM nodes and never parses HTML.
//
// Supported: paragraphs (blank-line separated; single newlines kept), fenced code blocks
// (``` or ~~~), ATX headings (#..######), **bold**, *italic* and `inline code`. Everything
// else, including any HTML a model writes, is shown literally as text. Underscores are left
// alone on purpose: snake_case identifiers are far more common in answers than _emphasis_.

import { h } from "./dom.js";

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
// `code` | **bold** | *italic* (no space just inside the markers, so "2 * 3 * 4" stays as is)
const INLINE = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\*\*(?=\S)([\s\S]*?\S)\*\*|\*(?=[^\s*])([^*]*?[^\s*]|[^\s*])\*/g;

export function renderMarkdown(text, container) {
  container.replaceChildren(...blocks(text));
}

function blocks(text) {
  const lines = text.split("\n");
  const out = [];
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) out.push(h("p", {}, inline(paragraph.join("\n"))));
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const marker = fence[1];
      const code = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(marker)) code.push(lines[i++]);
      const codeEl = h("code", {}, code.join("\n"));
      if (fence[2]) codeEl.dataset.lang = fence[2];
      out.push(h("pre", { class: "code" }, codeEl));
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      out.push(h("p", { class: `heading h${heading[1].length}` }, inline(heading[2])));
      continue;
    }
    if (line.trim() === "") flush();
    else paragraph.push(line);
  }
  flush();
  return out;
}

function inline(text) {
  const nodes = [];
  let at = 0;
  INLINE.lastIndex = 0;
  for (let match = INLINE.exec(text); match; match = INLINE.exec(text)) {
    if (match.index > at) nodes.push(text.slice(at, match.index));
    if (match[2] !== undefined) nodes.push(h("code", {}, match[2]));
    else if (match[3] !== undefined) nodes.push(h("strong", {}, inlineNested(match[3])));
    else nodes.push(h("em", {}, match[4]));
    at = INLINE.lastIndex;
  }
  if (at < text.length) nodes.push(text.slice(at));
  return nodes;
}

function inlineNested(text) {
  // Recursion through the same global regex would clobber its lastIndex; save it.
  const saved = INLINE.lastIndex;
  const nodes = inline(text);
  INLINE.lastIndex = saved;
  return nodes;
}
