// How a question is asked: Named (every answer under its model's name), Blind (the chosen
// models, labelled A, B, … until a vote reveals them) or Battle (two of them drawn at random,
// blind, as LMArena does). The choice is remembered; a conversation made blind opens blind.

import { getConversation } from "./api.js";
import { byId } from "./dom.js";
import { on, state } from "./state.js";

const STORAGE_KEY = "multichat.mode";
const MODES = ["named", "blind", "battle"];

const els = { modes: byId("arena-modes") };

function radios() {
  return [...els.modes.querySelectorAll('input[name="mode"]')];
}

export function arenaMode() {
  return radios().find((radio) => radio.checked)?.value || "named";
}

function setMode(mode) {
  for (const radio of radios()) radio.checked = radio.value === mode;
}

function savedMode() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    return MODES.includes(saved) ? saved : "named";
  } catch {
    return "named";
  }
}

// Battle: two of `chosen` drawn at random (all of them if only two are chosen).
export function drawTwo(chosen) {
  const pool = [...chosen];
  const picked = [];
  while (picked.length < 2 && pool.length) {
    const at = crypto.getRandomValues(new Uint32Array(1))[0] % pool.length;
    picked.push(pool.splice(at, 1)[0]);
  }
  return picked;
}

async function showMode() {
  if (state.conversationId == null) {
    setMode(savedMode());
    return;
  }
  const id = state.conversationId;
  try {
    const conversation = await getConversation(id);
    if (id === state.conversationId && conversation.blind && arenaMode() === "named") setMode("blind");
  } catch {
    // transcript.js reports what went wrong opening it
  }
}

export function bindArena() {
  setMode(savedMode());
  els.modes.addEventListener("change", () => {
    try {
      localStorage.setItem(STORAGE_KEY, arenaMode());
    } catch {
      // Private mode: not remembered.
    }
  });
  on("shown", showMode);
}
