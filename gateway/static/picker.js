// Which models to ask: one chip per provider, with its health dot; the pinned models under
// "Advanced"; and the note on how many are simulated. The choice is remembered in
// localStorage, unless ?models= in the URL makes it: ?models=claude:x+tokens=5,chatgpt picks
// the providers and pins their models (simulator knobs ride on the model name). A comma
// followed by something that is not a provider name belongs to the model before it.

import { listProviders } from "./api.js";
import { byId, h } from "./dom.js";
import { reportError, showNotice } from "./notice.js";
import { displayName, loadProviders, providers } from "./providers.js";
import { queryParam } from "./router.js";

const STORAGE_KEY = "multichat.providers";

const els = {
  chips: byId("providers"),
  overrides: byId("model-overrides"),
  advanced: byId("advanced"),
  simNote: byId("sim-note"),
  welcomeSim: byId("welcome-sim"),
};

let selected = new Set();
const overrides = new Map(); // provider -> pinned model (may carry simulator knobs)

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
    for (const entry of fromUrl) if (entry.model) overrides.set(entry.name, entry.model);
    if (overrides.size) els.advanced.open = true;
  } else {
    selected = savedChoice(known);
  }
  renderChips();
  renderOverrides();
  renderSimNote();
}

// The providers to ask, in their usual order: name, the model to show (pinned or default),
// whether it is simulated, and how POST /turns names it ("name" or "name:pinned model").
export function chosenModels() {
  return providers()
    .filter((p) => selected.has(p.name))
    .map((p) => {
      const pinned = (overrides.get(p.name) || "").trim();
      return {
        name: p.name,
        model: pinned || p.model,
        simulated: p.simulated,
        request: pinned ? `${p.name}:${pinned}` : p.name,
      };
    });
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

// The providers chosen last time that still exist; all of them the first time.
function savedChoice(known) {
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
  } catch {
    saved = null;
  }
  const chosen = Array.isArray(saved) ? saved.filter((name) => known.has(name)) : [];
  return new Set(chosen.length ? chosen : known);
}

function choose(name, on) {
  if (on) selected.add(name);
  else selected.delete(name);
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify([...selected]));
  } catch {
    // Private mode: the choice just is not remembered.
  }
}

function renderChips() {
  const chips = providers().map((p) =>
    h(
      "label",
      { class: "chip", dataset: { provider: p.name }, title: `${p.model} · health: ${p.health}` },
      h("input", {
        type: "checkbox",
        name: "provider",
        value: p.name,
        checked: selected.has(p.name),
        onchange: (event) => choose(p.name, event.target.checked),
      }),
      healthDot(p.health),
      h("span", { class: "chip-name" }, displayName(p.name)),
      p.simulated ? h("span", { class: "tag tag-sim" }, "simulated") : null,
    ),
  );
  els.chips.replaceChildren(...chips);
  watchChipOverflow();
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

function renderOverrides() {
  const fields = providers().map((p) =>
    h(
      "label",
      { class: "override", dataset: { provider: p.name } },
      h("span", {}, displayName(p.name)),
      h("input", {
        type: "text",
        name: `model-${p.name}`,
        placeholder: p.model,
        value: overrides.get(p.name) || "",
        spellcheck: "false",
        autocomplete: "off",
        oninput: (event) => overrides.set(p.name, event.target.value),
      }),
    ),
  );
  els.overrides.replaceChildren(...fields);
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
  if (health === "unknown") return null;
  return h("span", { class: `health health-${health}`, title: `health: ${health}` });
}

// Health changes as answers succeed or fail: update the dots, nothing else (a re-render
// would take the focus from a field being typed in).
export async function refreshHealth() {
  let fresh;
  try {
    fresh = await listProviders();
  } catch {
    return;
  }
  for (const p of fresh) {
    const chip = els.chips.querySelector(`.chip[data-provider="${CSS.escape(p.name)}"]`);
    if (!chip) continue;
    const dot = chip.querySelector(".health");
    const replacement = healthDot(p.health);
    if (dot && replacement) dot.replaceWith(replacement);
    else if (dot) dot.remove();
    else if (replacement) chip.querySelector(".chip-name").before(replacement);
    chip.title = `${p.model} · health: ${p.health}`;
  }
}
