// What a prompt carried besides its text, shown with it in the transcript: its images as
// thumbnails (each opens the full image) and its own settings in a line ("reasoning high ·
// temperature 0.3"); and under each answer, the settings its model was not given, and why.
// A live turn's come from the composer (view.attachments, view.settings); a stored one's from
// the conversation (view.userMessage).

import { uploadUrl } from "./api.js";
import { h } from "./dom.js";
import { turnExtensions } from "./turn.js";
import { describeSettings } from "./turn-settings.js";

const NAMES = { temperature: "temperature", max_tokens: "length", reasoning: "reasoning", system: "system prompt" };

function imagesOf(view) {
  if (view.attachments.length) return view.attachments;
  const stored = view.userMessage?.attachments || [];
  return stored.map((attachment) => ({ id: attachment.upload_id, url: uploadUrl(attachment.upload_id) }));
}

function settingsOf(view) {
  if (view.settings) return view.settings;
  const stored = view.userMessage?.settings;
  if (!stored) return null;
  return { ...(stored.params || {}), ...(stored.system ? { system: stored.system } : {}) };
}

function drawPrompt(view) {
  const images = imagesOf(view);
  const words = describeSettings(settingsOf(view) || {});
  const key = `${images.map((image) => image.id).join()}|${words}`;
  if (view.extrasKey === key) return;
  view.extrasKey = key;
  if (!view.extrasEl) {
    view.extrasEl = h("div", { class: "prompt-extras" });
    view.promptEl.after(view.extrasEl);
  }
  const thumbs = images.map((image, index) =>
    h(
      "a",
      { class: "prompt-image", href: uploadUrl(image.id), target: "_blank", rel: "noopener" },
      h("img", { src: image.url, alt: `Attached image ${index + 1}`, loading: "lazy" }),
    ),
  );
  view.extrasEl.replaceChildren(
    ...(thumbs.length ? [h("div", { class: "prompt-images" }, ...thumbs)] : []),
    ...(words ? [h("p", { class: "prompt-settings" }, `Turn settings: ${words}`)] : []),
  );
  view.extrasEl.hidden = !thumbs.length && !words;
  if (images.length || words) view.promptEl.closest(".prompt").hidden = false;
}

function drawIgnored(column) {
  const ignored = column.answer?.settings_ignored || null;
  const text = ignored
    ? Object.entries(ignored)
        .map(([setting, why]) => `${NAMES[setting] || setting}: ${why}`)
        .join("; ")
    : "";
  if (column.ignoredText === text) return;
  column.ignoredText = text;
  if (!column.ignoredEl) {
    column.ignoredEl = h("p", { class: "answer-note" });
    column.belowEl.append(column.ignoredEl);
  }
  column.ignoredEl.textContent = text ? `Not sent to this model: ${text}` : "";
  column.ignoredEl.hidden = !text;
}

turnExtensions.push({
  event() {},
  changed(view) {
    drawPrompt(view);
    for (const column of view.columns.values()) drawIgnored(column);
  },
});
