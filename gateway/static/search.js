// The sidebar's search box (full-text search over prompts and answers, best match first) and
// the export links of the conversation on screen (Markdown, JSON).

import { exportUrl, searchConversations } from "./api.js";
import { byId, h } from "./dom.js";
import { reportError } from "./notice.js";
import { bindRoving, rove } from "./roving.js";
import { state } from "./state.js";
import { openConversation } from "./transcript.js";

const DEBOUNCE_MS = 250;

const els = {
  sidebar: byId("sidebar"),
  input: byId("conversation-search"),
  results: byId("search-results"),
  none: byId("search-empty"),
  exportLinks: byId("export-links"),
  markdown: byId("export-markdown"),
  json: byId("export-json"),
};

let timer = 0;
let asked = 0; // the latest search asked: an older answer that arrives later is dropped

async function search() {
  const q = els.input.value.trim();
  els.sidebar.classList.toggle("searching", q !== "");
  els.results.hidden = q === "";
  els.none.hidden = true;
  if (q === "") return;
  const mine = ++asked;
  let found;
  try {
    found = await searchConversations(q);
  } catch (error) {
    reportError(error);
    return;
  }
  if (mine !== asked) return;
  els.results.replaceChildren(...found.items.map((hit) => resultItem(hit, q)));
  rove(els.results);
  els.none.hidden = found.items.length > 0;
}

// Opening a hit shows its conversation at the first match, every match highlighted.
function resultItem(hit, q) {
  return h(
    "li",
    { class: "conversation search-hit", dataset: { id: String(hit.id) } },
    h(
      "button",
      {
        type: "button",
        class: "conv-open",
        title: hit.title,
        onclick: () => openConversation(hit.id, { push: true, find: q, branch: hit.turn_id }),
      },
      h("span", { class: "conv-title" }, hit.title),
      h("span", { class: "conv-snippet" }, hit.snippet || ""),
    ),
  );
}

// The export links follow the conversation on screen (none for a new one).
export function updateExport() {
  const id = state.conversationId;
  els.exportLinks.hidden = id == null;
  if (id == null) return;
  els.markdown.href = exportUrl(id, "markdown");
  els.json.href = exportUrl(id, "json");
}

export function focusSearch() {
  els.input.focus();
  els.input.select();
}

export function bindSearch() {
  bindRoving(els.results);
  els.input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, DEBOUNCE_MS);
  });
  els.input.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && els.input.value) {
      event.preventDefault();
      event.stopPropagation();
      els.input.value = "";
      search();
    }
  });
}
