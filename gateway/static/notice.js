// The notice above the composer: one message (an error or a hint) until it is dismissed,
// replaced, or no longer true.

import { ApiError } from "./api.js";
import { byId, linkified } from "./dom.js";

const els = { box: byId("notice"), text: byId("notice-text"), close: byId("notice-close") };

export function showNotice(message) {
  els.text.replaceChildren(...linkified(message));
  els.box.hidden = false;
}

export function hideNotice() {
  els.box.hidden = true;
}

// Hide the notice only if it is this message (a hint that stopped being true).
export function withdrawNotice(message) {
  if (els.text.textContent === message) hideNotice();
}

export function reportError(error) {
  showNotice(error instanceof ApiError ? error.message : String(error));
}

export function bindNotice() {
  els.close.addEventListener("click", hideNotice);
}
