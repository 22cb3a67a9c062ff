// The words of a search, found again in the conversation it opened: every match is
// highlighted (with the CSS Custom Highlight API, so the answers' own DOM is not touched) and
// the first one is scrolled into view, its turn at the top and its column at the match.

const NAME = "search-hit";
const WORD = "[\\p{L}\\p{N}]";

// The words of a web-search query ("quoted phrase", -excluded, or), each cut to a rough stem
// as PostgreSQL's English search matches "glaciers" for "glacier" and the other way round.
export function searchTerms(query) {
  return query
    .toLowerCase()
    .split(/[\s"]+/)
    .filter((word) => word && word !== "or" && !word.startsWith("-"))
    .map((word) => word.replace(/[^\p{L}\p{N}]+/gu, ""))
    .filter((word) => word.length > 1)
    .map((word) => (word.length > 4 ? word.replace(/(ing|ed|es|s)$/, "") : word));
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// Highlight the query's words in `root`'s prompts and answers; the first match, or null.
export function highlightMatches(root, query) {
  clearHighlight();
  const words = searchTerms(query);
  if (!words.length || typeof Highlight !== "function" || !CSS.highlights) return null;
  const pattern = new RegExp(`(?<!${WORD})(?:${words.map(escape).join("|")})${WORD}*`, "giu");
  const ranges = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) =>
      node.parentElement.closest(".prompt-text, .answer-text")
        ? NodeFilter.FILTER_ACCEPT
        : NodeFilter.FILTER_REJECT,
  });
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.data.matchAll(pattern)) {
      const range = new Range();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      ranges.push(range);
    }
  }
  if (!ranges.length) return null;
  CSS.highlights.set(NAME, new Highlight(...ranges));
  return ranges[0];
}

export function clearHighlight() {
  if (typeof CSS !== "undefined" && CSS.highlights) CSS.highlights.delete(NAME);
}
