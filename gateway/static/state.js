// What the page's modules share: the conversation on screen and the turns still streaming,
// and a way for a module to say what just happened without knowing who needs to hear it
// (app.js wires the listeners). Anything only one module uses stays in that module.

// -- the reader's choices --------------------------------------------------------------------

const PREFS_KEY = "multichat.prefs";
const DEFAULT_PREFS = {
  syncScroll: false, // the columns of a turn scroll together
  simulatedCosts: false, // show what a simulated answer would have cost
  singleKeys: true, // one-key shortcuts (n, /, ?, a-e to vote); off: Escape only
};

function loadPrefs() {
  try {
    return { ...DEFAULT_PREFS, ...JSON.parse(localStorage.getItem(PREFS_KEY) || "{}") };
  } catch {
    return { ...DEFAULT_PREFS };
  }
}

export const state = {
  conversationId: null, // the conversation on screen; null for a new one
  live: new Map(), // turn id -> TurnView, for every turn still streaming
  view: null, // a view shown instead of the conversation ("leaderboard"), or null
  openSeq: 0, // counts what was put on screen, so an answer for something since left is dropped
  opening: null, // a conversation still being fetched (a promise): a question sent waits for it
  prefs: loadPrefs(), // the reader's choices, remembered in this browser (setPref)
};

export function setPref(name, value) {
  state.prefs[name] = value;
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(state.prefs));
  } catch {
    // Private mode: not remembered.
  }
  emit("prefs", { name, value });
}

// The turn still running in the conversation on screen, if any.
export function currentLiveTurn() {
  for (const view of state.live.values()) {
    if (view.conversationId === state.conversationId && view.running) return view;
  }
  return null;
}

export function isAnswering(conversationId) {
  return [...state.live.values()].some((v) => v.conversationId === conversationId && v.running);
}

// -- events --------------------------------------------------------------------------------
//
// "shown" {push, blank}: a conversation (blank: a new, empty one) is now on screen.
// "turn-started" {push}: a turn was created and is streaming.
// "turn-ended": a live turn ended (or was given up on).
// "prefs" {name, value}: one of the reader's choices changed.
// "view" {name}: a view other than the conversation was opened ("leaderboard"), or closed.

const listeners = new Map();

export function on(event, listener) {
  if (!listeners.has(event)) listeners.set(event, []);
  listeners.get(event).push(listener);
}

export function emit(event, detail = {}) {
  for (const listener of listeners.get(event) || []) listener(detail);
}
