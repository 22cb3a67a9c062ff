// Which models to ask: one chip per provider, with its health dot (explained in words); the
// Models popover, which lists each provider's models by name; and the note on how many are
// simulated. The choice is remembered in localStorage, unless ?models= in the URL makes it:
// ?models=claude:x+tokens=5,chatgpt picks the providers and pins their models (simulator knobs
// ride on the model name, as in the API). A comma followed by something that is not a provider
// name belongs to the model before it. The same chips choose which models answer an edited
// prompt (choiceChips), as a choice of its own.

import { listProviders } from "./api.js";
import { byId, h } from "./dom.js";
import { reportError, showNotice } from "./notice.js";
import { popover } from "./popover.js";
import { displayName, loadProviders, providers } from "./providers.js";
import { queryParam } from "./router.js";

const CHOICE_KEY = "multichat.providers";
const MODELS_KEY = "multichat.models";

// A provider's health, from its recent answers (a Stop is not counted against it).
export const HEALTH = {
  ok: "working: its recent answers came back",
  degraded: "some of its recent answers failed",
  down: "its recent answers failed",
  unknown: "not asked yet",
};

const els = {
  chips: byId("providers"),
  models: byId("model-list"),
  modelsButton: byId("models-open"),
  modelsPanel: byId("models-panel"),
  simNote: byId("sim-note"),
  welcomeSim: byId("welcome-sim"),
};

let selected = new Set();
const pinned = new Map(); // provider -> the model chosen (may carry simulator knobs)

export async function setUpPicker() {
  try {
    await loadProviders();
  } catch (error) {
    reportError(error);
  }
  const known = new Set(providers().map((p) => p.name));
  const fromUrl = parseModels(queryParam("models") || "", known);
  if (fromUrl.length) {
    selected = new Set(fromUrl.map((e) => e.name));
    for (const entry of fromUrl) if (entry.model) pinned.set(entry.name, entry.model);
  } else {
    selected = savedChoice(known);
    for (const [name, model] of Object.entries(saved(MODELS_KEY) || {})) {
      if (known.has(name) && typeof model === "string") pinned.set(name, model);
    }
  }
  popover(els.modelsButton, els.modelsPanel);
  renderChips();
  renderModels();
  renderSimNote();
}

// The providers to ask, in their usual order: name, the model to show (chosen or default),
// whether it is simulated, and how POST /turns names it ("name" or "name:model").
export function chosenModels() {
  return providers()
    .filter((p) => selected.has(p.name))
    .map((p) => {
      const model = (pinned.get(p.name) || "").trim();
      const chosen = model && model !== p.model;
      return {
        name: p.name,
        model: chosen ? model : p.model,
        simulated: p.simulated,
        request: chosen ? `${p.name}:${model}` : p.name,
      };
    });
}

// Every provider, as chosenModels() gives them (a battle draws from these when fewer than two
// are chosen).
export function allModels() {
  const before = selected;
  selected = new Set(providers().map((p) => p.name));
  try {
    return chosenModels();
  } finally {
    selected = before;
  }
}

function parseModels(text, known) {
  const entries = [];
  for (const piece of text.split(",")) {
    const name = piece.split(":")[0].trim();
    if (known.has(name)) {
      const model = piece.includes(":") ? piece.slice(piece.indexOf(":") + 1).trim() : "";
      entries.push({ name, model });
    } else if (entries.length && entries[entries.length - 1].model) {
      entries[entries.length - 1].model += `,${piece}`;
    } else if (piece.trim()) {
      showNotice(`Unknown provider in ?models=: ${piece.trim()}`);
    }
  }
  return entries;
}

function saved(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function remember(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Private mode: the choice just is not remembered.
  }
}

// The providers chosen last time that still exist; all of them the first time.
function savedChoice(known) {
  const choice = saved(CHOICE_KEY);
  const chosen = Array.isArray(choice) ? choice.filter((name) => known.has(name)) : [];
  return new Set(chosen.length ? chosen : known);
}

function choose(name, on) {
  if (on) selected.add(name);
  else selected.delete(name);
  remember(CHOICE_KEY, [...selected]);
  // The chips and the Models popover agree; an edited prompt's chips are a choice of their own.
  for (const list of [els.chips, els.models]) {
    for (const box of list.querySelectorAll(`input[type=checkbox][value="${CSS.escape(name)}"]`)) {
      box.checked = on;
    }
  }
}

// One provider's chip: its checkbox, health dot, name, model (when not its default) and the
// simulated tag. The composer's chips and an edited prompt's (choiceChips) are made here.
function chip(p, checked, onchange) {
  return h(
    "label",
    { class: "chip", dataset: { provider: p.name } },
    h("input", { type: "checkbox", name: "provider", value: p.name, checked, onchange }),
    healthDot(p.health),
    h("span", { class: "chip-name" }, displayName(p.name)),
    h("span", { class: "chip-model", hidden: true }),
    p.simulated ? h("span", { class: "tag tag-sim" }, "simulated") : null,
  );
}

function renderChips() {
  const chips = providers().map((p) =>
    chip(p, selected.has(p.name), (event) => choose(p.name, event.target.checked)),
  );
  els.chips.replaceChildren(...chips);
  showPinned();
  watchChipOverflow();
}

// Chips for a choice of its own (an edited prompt's models), not the composer's: `chosen`,
// {provider: model}, are ticked with those models; a provider ticked later asks the model the
// composer would. requests() says how POST /turns/{id}/edit names them, in the usual order.
export function choiceChips(chosen, legend) {
  const models = new Map(
    providers().map((p) => [p.name, chosen[p.name] || (pinned.get(p.name) || "").trim() || p.model]),
  );
  const chips = providers().map((p) => {
    const el = chip(p, p.name in chosen, null);
    nameModel(el, p, models.get(p.name));
    return el;
  });
  const el = h(
    "fieldset",
    { class: "choice-chips" },
    h("legend", { class: "choice-legend" }, legend),
    h("div", { class: "chips" }, ...chips),
  );
  const requests = () =>
    providers()
      .filter((p) => el.querySelector(`input[value="${CSS.escape(p.name)}"]`).checked)
      .map((p) => (models.get(p.name) === p.model ? p.name : `${p.name}:${models.get(p.name)}`));
  return { el, requests };
}

// A chip names its model when it is not the provider's default.
function showPinned() {
  for (const p of providers()) {
    const el = els.chips.querySelector(`.chip[data-provider="${CSS.escape(p.name)}"]`);
    nameModel(el, p, (pinned.get(p.name) || "").trim());
  }
}

function nameModel(el, p, model) {
  const label = el.querySelector(".chip-model");
  label.textContent = model;
  label.hidden = !model || model === p.model;
  el.title = `${displayName(p.name)}: ${model || p.model} · ${HEALTH[p.health] || p.health}`;
}

// On a phone the chips are one row that scrolls sideways: say so while some are out of view.
let overflowWatch = null;
function watchChipOverflow() {
  const mark = () => {
    const { scrollWidth, clientWidth, scrollLeft } = els.chips;
    const hidden = scrollWidth - clientWidth - scrollLeft > 4;
    const fieldset = els.chips.closest(".providers");
    if (hidden) fieldset.dataset.overflow = "true";
    else delete fieldset.dataset.overflow;
  };
  if (!overflowWatch && typeof ResizeObserver === "function") {
    overflowWatch = new ResizeObserver(mark);
    overflowWatch.observe(els.chips);
    els.chips.addEventListener("scroll", mark, { passive: true });
  }
  mark();
}

// The Models popover: each provider's models by name, its default first.
function renderModels() {
  const rows = providers().map((p) => {
    const current = (pinned.get(p.name) || "").trim() || p.model;
    const names = p.models && p.models.length ? p.models : [p.model];
    const options = names.map((model) =>
      h("option", { value: model, selected: model === current }, model === p.model ? `${model} (default)` : model),
    );
    if (!names.includes(current)) options.push(h("option", { value: current, selected: true }, current));
    const select = h(
      "select",
      {
        name: `model-${p.name}`,
        "aria-label": `${displayName(p.name)}'s model`,
        onchange: (event) => {
          pinned.set(p.name, event.target.value);
          remember(MODELS_KEY, Object.fromEntries(pinned));
          showPinned();
        },
      },
      ...options,
    );
    return h(
      "div",
      { class: "model-row", dataset: { provider: p.name } },
      h(
        "label",
        { class: "model-pick" },
        h("input", {
          type: "checkbox",
          value: p.name,
          checked: selected.has(p.name),
          onchange: (event) => choose(p.name, event.target.checked),
        }),
        healthDot(p.health),
        h("span", { class: "chip-name" }, displayName(p.name)),
      ),
      select,
    );
  });
  els.models.replaceChildren(...rows);
}

function renderSimNote() {
  const all = providers().length;
  const simulated = providers().filter((p) => p.simulated).length;
  let note = "";
  if (simulated && simulated === all) {
    note = "Demo mode: every model is simulated (no API keys set)";
  } else if (simulated) {
    note = `${simulated} of ${all} models simulated (no API key)`;
  }
  els.simNote.textContent = note;
  els.simNote.hidden = !note;
  els.welcomeSim.hidden = !simulated;
}

function healthDot(health) {
  if (health === "unknown" || !HEALTH[health]) return null;
  return h(
    "span",
    { class: `health health-${health}`, title: HEALTH[health] },
    h("span", { class: "visually-hidden" }, `(${HEALTH[health]})`),
  );
}

// Health changes as answers succeed or fail: update the dots, nothing else (a re-render
// would take the focus from a field being chosen in).
export async function refreshHealth() {
  let fresh;
  try {
    fresh = await listProviders();
  } catch {
    return;
  }
  for (const p of fresh) {
    const known = providers().find((q) => q.name === p.name);
    if (known) known.health = p.health;
    for (const row of document.querySelectorAll(`[data-provider="${CSS.escape(p.name)}"]:is(.chip, .model-row)`)) {
      const dot = row.querySelector(".health");
      const replacement = healthDot(p.health);
      if (dot && replacement) dot.replaceWith(replacement);
      else if (dot) dot.remove();
      else if (replacement) row.querySelector(".chip-name").before(replacement);
    }
  }
  showPinned();
}
