// The composer: the prompt box (Enter sends, Shift+Enter is a new line, it grows as you type),
// the example questions, Send and Stop all, and sending a prompt as a new turn, with its images
// (attachments.js) and its own settings (turn-settings.js).

import { createTurn } from "./api.js";
import { arenaMode, drawTwo } from "./arena.js";
import { clearAttachments, pendingAttachments, uploading } from "./attachments.js";
import { byId } from "./dom.js";
import { hideNotice, reportError, showNotice, withdrawNotice } from "./notice.js";
import { allModels, chosenModels } from "./picker.js";
import { currentLiveTurn, emit, state } from "./state.js";
import { addTurn, newTurnView, removeTurn, streamNewTurn } from "./transcript.js";
import { turnSettingsBody } from "./turn-settings.js";

const STILL_ANSWERING = "The models are still answering: wait for them, or press Stop all.";
const MAX_HEIGHT = 220; // px: the prompt box grows up to this, then scrolls

const els = {
  form: byId("composer"),
  prompt: byId("prompt"),
  send: byId("send"),
  stopAll: byId("stop-all"),
  examples: byId("examples"),
};

let sending = false; // between pressing Send and the gateway's answer

// Send while nothing runs, Stop all while a turn in this conversation does.
export function updateComposer() {
  const running = currentLiveTurn();
  if (!running) withdrawNotice(STILL_ANSWERING);
  els.send.hidden = Boolean(running);
  els.stopAll.hidden = !running;
  els.send.disabled = sending;
}

export function focusPrompt() {
  els.prompt.focus();
}

// text: an example question; otherwise what is in the prompt box.
async function send(text) {
  if (sending) return;
  if (state.opening) await untilOpened();
  const prompt = text ?? els.prompt.value;
  if (currentLiveTurn()) {
    showNotice(STILL_ANSWERING);
    return;
  }
  if (!prompt.trim()) {
    els.prompt.focus();
    return;
  }
  if (uploading()) {
    showNotice("An image is still uploading: send once it is there.");
    return;
  }
  const mode = arenaMode();
  let chosen = chosenModels();
  // A battle: two drawn at random from those chosen (from all, if fewer than two are).
  if (mode === "battle") chosen = drawTwo(chosen.length >= 2 ? chosen : allModels());
  if (!chosen.length) {
    showNotice("Choose at least one model to ask.");
    return;
  }
  hideNotice();
  const blind = mode !== "named";
  const images = pendingAttachments();
  const settings = turnSettingsBody();
  const view = newTurnView(prompt);
  view.attachments = images;
  view.settings = { ...(settings.params || {}), ...(settings.system ? { system: settings.system } : {}) };
  // A blind turn's columns come with its first event, named by label only.
  if (!blind) for (const c of chosen) view.column(c.name, c.model, c.simulated);
  addTurn(view);
  setPrompt("");
  sending = true;
  updateComposer();
  const conversationAtSend = state.conversationId;
  const seq = state.openSeq;
  let created;
  try {
    created = await createTurn({
      prompt,
      conversation_id: conversationAtSend,
      models: chosen.map((c) => c.request),
      blind,
      ...settings,
      ...(images.length ? { attachments: images.map((image) => ({ upload_id: image.id })) } : {}),
    });
  } catch (error) {
    removeTurn(view);
    if (!els.prompt.value) els.prompt.value = prompt; // unless a new one was typed meanwhile
    autoGrow();
    reportError(error);
    return;
  } finally {
    sending = false;
    updateComposer();
  }
  if (images.length) clearAttachments(); // they went with this question
  streamNewTurn(view, created, seq);
  emit("turn-started", { push: conversationAtSend == null });
}

// A conversation is still being fetched (just opened, or named by the address): the question
// goes into it once it is on screen, not into a new conversation it would then be drawn over.
async function untilOpened() {
  sending = true;
  updateComposer();
  try {
    await state.opening;
  } finally {
    sending = false;
    updateComposer();
  }
}

function setPrompt(text) {
  els.prompt.value = text;
  autoGrow();
}

function autoGrow() {
  els.prompt.style.height = "auto";
  els.prompt.style.height = `${Math.min(els.prompt.scrollHeight, MAX_HEIGHT)}px`;
}

function stopAll() {
  const view = currentLiveTurn();
  if (view) view.stop(null);
}

export function bindComposer() {
  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  els.prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  els.prompt.addEventListener("input", autoGrow);
  els.stopAll.addEventListener("click", stopAll);
  // Escape stops the running turn, wherever the focus is, unless something nearer used it
  // (renaming a conversation takes Escape as "keep the old title").
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented || event.isComposing) return;
    if (event.target.closest && event.target.closest("dialog, .popover")) return; // it closes that
    const view = currentLiveTurn();
    if (!view) return;
    event.preventDefault();
    view.stop(null);
  });
  for (const button of els.examples.querySelectorAll("button")) {
    button.addEventListener("click", () => send(button.textContent));
  }
}
