// Images for the next prompt: dropped on the composer, pasted into the prompt box, or chosen
// with the image button. Each is uploaded at once (POST /uploads) and shown as a thumbnail with
// a remove button; the composer sends their ids with the prompt (and hands the thumbnails to
// the turn), then the strip empties. An image the gateway refuses is not kept: the notice says
// why (too large, not an image, …). Thumbnails are the gateway's copies (/api/v1/uploads/{id}):
// the page's content security policy takes images from the gateway only.

import { uploadImage, uploadUrl } from "./api.js";
import { byId, h, icon } from "./dom.js";
import { reportError, showNotice } from "./notice.js";

const TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];
const MAX_IMAGES = 10; // the gateway's default MAX_ATTACHMENTS; it has the last word

const els = {
  form: byId("composer"),
  prompt: byId("prompt"),
  strip: byId("attachments"),
  button: byId("attach"),
  input: byId("attach-input"),
};

// {id and url (once uploaded), name, uploading}
let pending = [];

export function pendingAttachments() {
  return pending.filter((item) => item.id);
}

export function uploading() {
  return pending.some((item) => item.uploading);
}

export function clearAttachments() {
  pending = [];
  render();
}

async function add(files) {
  const images = [...files].filter((file) => file.type.startsWith("image/"));
  if (!images.length) return;
  for (const file of images) {
    if (pending.length >= MAX_IMAGES) {
      showNotice(`At most ${MAX_IMAGES} images per question.`);
      break;
    }
    if (!TYPES.includes(file.type)) {
      showNotice(`${file.name || "That image"}: only PNG, JPEG, WebP and GIF images are taken.`);
      continue;
    }
    const item = { id: null, url: null, name: file.name || "image", uploading: true };
    pending.push(item);
    render();
    try {
      const uploaded = await uploadImage(file);
      item.id = uploaded.id;
      item.url = uploadUrl(uploaded.id);
    } catch (error) {
      remove(item);
      reportError(error);
    } finally {
      item.uploading = false;
      render();
    }
  }
}

function remove(item) {
  pending = pending.filter((other) => other !== item);
  render();
}

function render() {
  els.strip.hidden = pending.length === 0;
  els.strip.replaceChildren(
    ...pending.map((item, index) =>
      h(
        "figure",
        { class: "attachment", dataset: { state: item.uploading ? "uploading" : "ready" } },
        item.url
          ? h("img", { src: item.url, alt: `Image ${index + 1}: ${item.name}` })
          : h("span", { class: "attachment-wait" }, "Uploading…"),
        h(
          "button",
          {
            type: "button",
            class: "button-icon attachment-remove",
            title: `Remove ${item.name}`,
            "aria-label": `Remove image ${index + 1}`,
            onclick: () => remove(item),
          },
          icon("close"),
        ),
      ),
    ),
  );
}

export function bindAttachments() {
  els.button.addEventListener("click", () => els.input.click());
  els.input.addEventListener("change", () => {
    add(els.input.files);
    els.input.value = "";
  });
  els.prompt.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.some((file) => file.type.startsWith("image/"))) {
      event.preventDefault(); // the image, not its file name, goes with the question
      add(files);
    }
  });
  const dragging = (on) => els.form.classList.toggle("dropping", on);
  els.form.addEventListener("dragover", (event) => {
    if (![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    dragging(true);
  });
  els.form.addEventListener("dragleave", (event) => {
    if (!els.form.contains(event.relatedTarget)) dragging(false);
  });
  els.form.addEventListener("drop", (event) => {
    if (!event.dataTransfer.files.length) return;
    event.preventDefault();
    dragging(false);
    add(event.dataTransfer.files);
  });
}
