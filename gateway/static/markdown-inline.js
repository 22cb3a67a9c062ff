// Inline Markdown as answers use it: `code`, **strong**, *em*, _em_, ~~strike~~, [links](…),
// <https://autolinks>, bare https:// URLs, images (as links: the page loads nothing a model
// names) and backslash escapes. Builds DOM nodes only; every piece of text is a text node.
//
// Links open only for http and https (anything else, javascript: included, is shown as its
// label, not linked), in a new tab, without an opener or a referrer. HTML entities are left
// as written: "&lt;" shows as "&lt;", never decoded into anything.

import { h } from "./dom.js";

const ESCAPABLE = /[!-/:-@[-`{-~]/;
const WORD = /[\p{L}\p{N}]/u;
const SPACE = /\s/;
const AUTOLINK = /<(https?:\/\/[^\s<>]+)>/iy;
// A bare URL ends before whitespace or <, and not on the punctuation that ends a sentence.
const BARE_URL = /https?:\/\/[^\s<>]*[^\s<>.,:;!?'")\]*_~]/iy;

export function safeUrl(raw) {
  if (!/^https?:\/\//i.test(raw)) return null;
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function link(href, children, title) {
  return h(
    "a",
    { href, target: "_blank", rel: "noopener noreferrer", title: title || null },
    children,
  );
}

/** The inline nodes (text nodes and elements) of one paragraph, heading or cell. */
export function inline(text, inLink = false) {
  const out = [];
  let plain = "";
  const flush = () => {
    if (plain) out.push(plain);
    plain = "";
  };
  const put = (node, end) => {
    flush();
    out.push(node);
    return end;
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    let found = null;
    if (c === "\\" && ESCAPABLE.test(text[i + 1] || "")) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (c === "`") {
      found = codeSpan(text, i);
      if (found) {
        i = put(h("code", {}, found.code), found.end);
      } else {
        const run = runLength(text, i, "`");
        plain += text.slice(i, i + run);
        i += run;
      }
      continue;
    }
    if (!inLink && c === "!" && text[i + 1] === "[" && (found = bracketLink(text, i + 1))) {
      i = put(imageLink(found), found.end);
      continue;
    }
    if (!inLink && c === "[" && (found = bracketLink(text, i))) {
      i = put(anchor(found), found.end);
      continue;
    }
    if (!inLink && c === "<" && (found = matchAt(AUTOLINK, text, i))) {
      const href = safeUrl(found[1]);
      if (href) {
        i = put(link(href, found[1]), i + found[0].length);
        continue;
      }
    }
    if (!inLink && (c === "h" || c === "H") && !WORD.test(text[i - 1] || "")) {
      found = matchAt(BARE_URL, text, i);
      const href = found && safeUrl(found[0]);
      if (href) {
        i = put(link(href, found[0]), i + found[0].length);
        continue;
      }
    }
    if ((c === "*" || c === "_" || c === "~") && (found = emphasis(text, i, inLink))) {
      i = put(found.node, found.end);
      continue;
    }
    if (c === "*" || c === "_" || c === "~") {
      // An unmatched run stays literal as a whole, so "**a" never opens a later "*".
      const run = runLength(text, i, c);
      plain += text.slice(i, i + run);
      i += run;
      continue;
    }
    plain += c;
    i += 1;
  }
  flush();
  return out;
}

function matchAt(pattern, text, at) {
  pattern.lastIndex = at;
  return pattern.exec(text);
}

function runLength(text, at, char) {
  let end = at;
  while (text[end] === char) end += 1;
  return end - at;
}

// `code` and ``code with ` inside``: the closing run has the same length as the opening one.
function codeSpan(text, at) {
  const run = runLength(text, at, "`");
  let search = at + run;
  while (search < text.length) {
    const close = text.indexOf("`", search);
    if (close < 0) return null;
    const closeRun = runLength(text, close, "`");
    if (closeRun === run) {
      let code = text.slice(at + run, close).replace(/\n/g, " ");
      if (/^ .*[^ ].* $/.test(code)) code = code.slice(1, -1);
      return { code, end: close + run };
    }
    search = close + closeRun;
  }
  return null;
}

// [label](destination "title"): null unless the whole shape is there ([1] stays as text).
function bracketLink(text, at) {
  let depth = 0;
  let close = -1;
  for (let i = at; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i += 1;
    else if (c === "[") depth += 1;
    else if (c === "]" && --depth === 0) {
      close = i;
      break;
    }
  }
  if (close < 0 || text[close + 1] !== "(") return null;
  let i = close + 2;
  while (text[i] === " ") i += 1;
  let url = "";
  if (text[i] === "<") {
    const end = text.indexOf(">", i);
    if (end < 0) return null;
    url = text.slice(i + 1, end);
    i = end + 1;
  } else {
    let parens = 0;
    const start = i;
    for (; i < text.length; i++) {
      const c = text[i];
      if (SPACE.test(c)) break;
      if (c === "(") parens += 1;
      else if (c === ")" && parens-- === 0) break;
    }
    url = text.slice(start, i);
  }
  while (text[i] === " ") i += 1;
  let title = null;
  const quote = text[i];
  if (quote === '"' || quote === "'") {
    const end = text.indexOf(quote, i + 1);
    if (end < 0) return null;
    title = text.slice(i + 1, end);
    i = end + 1;
    while (text[i] === " ") i += 1;
  }
  if (text[i] !== ")") return null;
  return { label: text.slice(at + 1, close), url, title, end: i + 1 };
}

function anchor({ label, url, title }) {
  const href = safeUrl(url);
  const children = inline(label, true);
  if (href) return link(href, children, title);
  return h("span", { class: "link-refused", title: "Not opened: only http and https links are" }, children);
}

function imageLink({ label, url }) {
  // Never an <img>: a model could make the page fetch any address (a tracking pixel).
  const href = safeUrl(url);
  const text = `image: ${label || url}`;
  return href ? link(href, text) : h("span", { class: "link-refused" }, text);
}

// *em*, **strong**, ***both***, _em_, __strong__, ~~strike~~. An opening run must be followed
// by a non-space, a closing one preceded by one; _ only between non-letters, so snake_case
// stays as written.
function emphasis(text, at, inLink) {
  const char = text[at];
  const run = runLength(text, at, char);
  if (char === "~" && run !== 2) return null;
  if (run > 3) return null;
  const next = text[at + run] || "";
  if (next === "" || SPACE.test(next)) return null;
  if (char === "_" && WORD.test(text[at - 1] || "")) return null;
  const marker = char.repeat(run);
  let search = at + run + 1;
  while (search <= text.length) {
    const close = text.indexOf(marker, search);
    if (close < 0) return null;
    const closeRun = runLength(text, close, char);
    const before = text[close - 1];
    const after = text[close + closeRun] || "";
    const fits =
      closeRun === run &&
      !SPACE.test(before) &&
      !(char === "_" && WORD.test(after));
    if (fits) {
      const inner = inline(text.slice(at + run, close), inLink);
      return { node: wrap(char, run, inner), end: close + run };
    }
    search = close + closeRun;
  }
  return null;
}

function wrap(char, run, inner) {
  if (char === "~") return h("del", {}, inner);
  if (run === 1) return h("em", {}, inner);
  if (run === 2) return h("strong", {}, inner);
  return h("strong", {}, h("em", {}, inner));
}

/** Markdown text as plain text: the marks taken away (for titles). */
export function plainText(markdown) {
  return inlineText(inline(markdown.replace(/^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d{1,9}[.)]\s+)/, "")));
}

function inlineText(nodes) {
  return nodes.map((node) => (typeof node === "string" ? node : node.textContent)).join("");
}
