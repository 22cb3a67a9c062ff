// The next turn's own settings: a system prompt, the temperature, the answer's length and how
// hard the models reason, in the composer's Turn settings popover. What is left empty keeps
// each model's own. The last settings used are remembered in this browser; the button says
// when any is set.

import { byId } from "./dom.js";
import { popover } from "./popover.js";

const KEY = "multichat.turnSettings";
const REASONING = { off: "off", low: "low", medium: "medium", high: "high" };

const els = {
  button: byId("turn-settings-open"),
  panel: byId("turn-settings"),
  summary: byId("turn-settings-summary"),
  system: byId("turn-system"),
  temperature: byId("turn-temperature"),
  maxTokens: byId("turn-max-tokens"),
  reasoning: byId("turn-reasoning"),
  reset: byId("turn-settings-reset"),
};

function load() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "{}") || {};
  } catch {
    return {};
  }
}

function save(settings) {
  try {
    localStorage.setItem(KEY, JSON.stringify(settings));
  } catch {
    // Private mode: not remembered.
  }
}

// The settings as the fields hold them: only what is set, numbers as numbers.
function read() {
  const settings = {};
  const system = els.system.value.trim();
  if (system) settings.system = els.system.value;
  const temperature = Number.parseFloat(els.temperature.value);
  if (els.temperature.value !== "" && Number.isFinite(temperature)) {
    settings.temperature = Math.min(2, Math.max(0, temperature));
  }
  const maxTokens = Number.parseInt(els.maxTokens.value, 10);
  if (els.maxTokens.value !== "" && maxTokens >= 1) settings.max_tokens = maxTokens;
  if (REASONING[els.reasoning.value]) settings.reasoning = els.reasoning.value;
  return settings;
}

function show(settings) {
  els.system.value = settings.system || "";
  els.temperature.value = settings.temperature ?? "";
  els.maxTokens.value = settings.max_tokens ?? "";
  els.reasoning.value = settings.reasoning || "";
  summarise(settings);
}

// The button's words: what is set, at a glance.
export function describeSettings(settings) {
  const parts = [];
  if (settings.system) parts.push("system prompt");
  if (settings.temperature != null) parts.push(`temperature ${settings.temperature}`);
  if (settings.max_tokens != null) parts.push(`≤ ${settings.max_tokens} tokens`);
  if (settings.reasoning) parts.push(`reasoning ${settings.reasoning}`);
  return parts.join(" · ");
}

function summarise(settings) {
  const words = describeSettings(settings);
  els.summary.textContent = words;
  els.summary.hidden = !words;
  els.button.classList.toggle("active", Boolean(words));
  els.button.title = words ? `Turn settings: ${words}` : "Turn settings: system prompt, temperature, reasoning";
}

function changed() {
  const settings = read();
  save(settings);
  summarise(settings);
}

// What a new turn's body gets: {system?, params?} (nothing when nothing is set).
export function turnSettingsBody() {
  const { system, ...params } = read();
  const body = {};
  if (system) body.system = system;
  if (Object.keys(params).length) body.params = params;
  return body;
}

export function bindTurnSettings() {
  popover(els.button, els.panel);
  show(load());
  for (const field of [els.system, els.temperature, els.maxTokens, els.reasoning]) {
    field.addEventListener("change", changed);
    field.addEventListener("input", changed);
  }
  els.reset.addEventListener("click", () => {
    show({});
    save({});
  });
}
