// The address bar and what is on screen. The hash says which conversation is shown and which
// of its turns is still running: #conversation=<id>&turn=<turn id>. The turn is there only
// while it runs, so a reloaded page picks it up again from its first event; Back and Forward
// move between conversations. #leaderboard is the leaderboard's view. The query string is
// read, never written (?models=, picker.js).

import { showLeaderboard } from "./leaderboard.js";
import { currentLiveTurn, state } from "./state.js";
import { newConversation, openConversation, showLoneTurn } from "./transcript.js";

let started = false;

// Show what the hash names: on load, and on Back and Forward. Resolves once a conversation it
// names is on screen.
export async function route() {
  if (location.hash === "#leaderboard") {
    if (!started) newConversation();
    started = true;
    showLeaderboard();
    return;
  }
  started = true;
  const { conversation, turn } = readHash();
  if (conversation) await openConversation(conversation, { resume: turn });
  else if (turn) showLoneTurn(turn);
  else newConversation();
}

// Make the hash say what is on screen (push: as a new history entry).
export function writeHash(push = false) {
  if (state.view === "leaderboard") return; // it stays #leaderboard until closed
  const parts = [];
  if (state.conversationId) parts.push(`conversation=${state.conversationId}`);
  const running = currentLiveTurn();
  if (running) parts.push(`turn=${encodeURIComponent(running.turnId)}`);
  const hash = parts.length ? `#${parts.join("&")}` : "";
  const url = `${location.pathname}${location.search}${hash}`;
  if (url === `${location.pathname}${location.search}${location.hash}`) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

export function queryParam(name) {
  return rawParams(location.search).get(name);
}

export function bindRouter() {
  window.addEventListener("popstate", route);
}

function readHash() {
  const params = rawParams(location.hash);
  const conversation = Number(params.get("conversation"));
  return {
    conversation: Number.isInteger(conversation) && conversation > 0 ? conversation : null,
    turn: params.get("turn") || null,
  };
}

// Query and hash parameters, without turning "+" into a space (model knobs use "+"). A key
// given twice keeps both values, joined by a comma.
function rawParams(text) {
  const params = new Map();
  for (const part of text.replace(/^[?#]/, "").split("&")) {
    if (!part) continue;
    const at = part.indexOf("=");
    const key = decode(at < 0 ? part : part.slice(0, at));
    const value = decode(at < 0 ? "" : part.slice(at + 1));
    params.set(key, params.has(key) ? `${params.get(key)},${value}` : value);
  }
  return params;
}

function decode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
