// Retry and Add model: ask a column's provider again, or a provider the turn did not have,
// on a live or a past turn (POST /turns/{id}/retry and /add). The new events come on the
// turn's own stream after `last_event_id`: a turn still streaming carries them on its open
// connection; a finished one is followed again from there until its next `end`.

import { addToTurn, retryTurn } from "./api.js";
import { h, icon } from "./dom.js";
import { reportError } from "./notice.js";
import { displayName, providers } from "./providers.js";

const FINISHED = new Set(["complete", "failed", "cancelled"]);

// The Retry button in a column's header; shown once its answer is finished.
export function retryButton(column) {
  const name = column.displayName;
  return h(
    "button",
    {
      type: "button",
      class: "button-icon retry-one",
      title: `Ask ${name} again (its answer so far is kept in the history)`,
      "aria-label": `Retry ${name}`,
      hidden: true,
      onclick: () => rerun(column.turn, [column.key], false),
    },
    icon("retry"),
  );
}

export function syncRetry(column) {
  if (column.retryButton) {
    column.retryButton.hidden = !(FINISHED.has(column.status) && column.turn.turnId);
  }
}

// The turn's "Add model" menu: the providers the turn does not have yet.
export function addModelControl(view) {
  const select = h("select", {
    class: "add-model",
    "aria-label": "Add a model to this turn",
    hidden: true,
    onchange: () => {
      const name = select.value;
      select.value = "";
      if (name) rerun(view, [name], true);
    },
  });
  view.addModelEl = select;
  return select;
}

export function syncAddModel(view) {
  const select = view.addModelEl;
  if (!select) return;
  // A blind turn takes no new providers: their answers would not be blind (the API says 409).
  const missing = view.blind ? [] : providers().filter((p) => !view.columns.has(p.name));
  select.hidden = !view.turnId || missing.length === 0;
  const current = [...select.options].slice(1).map((o) => o.value);
  if (current.join() === missing.map((p) => p.name).join()) return;
  select.replaceChildren(
    h("option", { value: "" }, "+ Add a model…"),
    ...missing.map((p) => h("option", { value: p.name }, displayName(p.name))),
  );
}

async function rerun(view, names, add) {
  // Cleared before asking: on a turn still streaming, the new text may come before the answer.
  const before = new Map();
  for (const name of names) {
    const column = view.column(name, null, null);
    before.set(name, column.answer);
    column.reset();
  }
  view.changed();
  let started;
  try {
    started = await (add ? addToTurn : retryTurn)(view.turnId, names);
  } catch (error) {
    for (const [name, answer] of before) {
      if (answer) view.column(name).finish(answer);
      else view.removeColumn(name);
    }
    view.changed();
    reportError(error);
    return;
  }
  follow(view, started);
}

// Follow a run started on the turn (a retry, an add, a fusion) on the turn's stream.
export function follow(view, started) {
  if (view.running && view.source) return; // its open stream carries the new events
  const url = new URL(started.events_url, window.location.href);
  url.searchParams.delete("last_event_id"); // connect() asks for it
  view.ended = false;
  view.attach(view.turnId, url.pathname + url.search);
  view.lastId = Math.max(view.lastId, started.last_event_id);
  view.connect(started.last_event_id);
}
