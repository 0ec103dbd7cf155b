// The form's slots (first frame, last frame, reference images, reference videos, reference audio):
// choose, drop, paste or type a URL; thumbnails of what the kernel holds. Which slots show, how many
// files each holds, the file types and the size caps all come from the `limits` trait (the model's
// spec). File bytes go to the kernel once (MSG_ADD_IMAGE + a buffer); the kernel answers each by the
// page's id, and until then Generate waits.
import { el, replaceChildren, setText, show } from "../lib/dom.js";
import { formatBytes } from "../lib/format.js";
import { slotCounts } from "./parameters.js";
import {
  MSG_ADD_IMAGE,
  MSG_ADD_IMAGE_RESPONSE,
  MSG_IMAGE_REQUEST,
  MSG_IMAGE_RESPONSE,
  MSG_REMOVE_IMAGE,
} from "../lib/messages.js";

/**
 * @typedef {import("./context.js").FormContext} FormContext
 * @typedef {import("../lib/model.js").AnyModel} AnyModel
 */

/**
 * An image as the kernel lists it (SeedanceForm.images).
 * @typedef {Object} FormImage
 * @property {string} id
 * @property {string} role first_frame | last_frame | reference_image
 * @property {"url" | "file"} kind
 * @property {string | null} [url]
 * @property {string | null} [name]
 * @property {number | null} [size]
 * @property {string | null} [mime]
 * @property {number | null} [seconds] length of a local video or audio clip, when its header says
 */

/**
 * Slots in reading order: role, label, the kind of file (the `limits.uploads` key), whether it holds
 * several files. Shown only when the model takes that role (slotCounts).
 * @typedef {{ role: string, label: string, kind: "image" | "video" | "audio", multiple: boolean }} SlotInfo
 */
/** @type {SlotInfo[]} */
const SLOTS = [
  { role: "first_frame", label: "First frame", kind: "image", multiple: false },
  { role: "last_frame", label: "Last frame", kind: "image", multiple: false },
  { role: "reference_image", label: "Reference images", kind: "image", multiple: true },
  { role: "reference_video", label: "Reference videos", kind: "video", multiple: true },
  { role: "reference_audio", label: "Reference audio", kind: "audio", multiple: true },
];

let idCounter = 0;
/** A fresh id for an image the page adds (the kernel keeps it, so the thumbnail is known at once). */
function newImageId() {
  idCounter += 1;
  return `p${Date.now().toString(36)}${idCounter.toString(36)}`;
}

/**
 * Ask the kernel for an image's bytes (for a thumbnail of an image added from Python).
 * @param {AnyModel} model
 * @param {string} id
 * @param {AbortSignal} signal stops waiting (the view went away)
 * @returns {Promise<Blob | null>}
 */
function requestImage(model, id, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(null), 15000);
    const onAbort = () => done(null);
    signal.addEventListener("abort", onAbort);
    /** @param {Blob | null} value */
    function done(value) {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      model.off("msg:custom", onMessage);
      resolve(value);
    }
    /**
     * @param {any} msg
     * @param {DataView<ArrayBuffer>[]} buffers
     */
    function onMessage(msg, buffers) {
      if (!msg || msg.kind !== MSG_IMAGE_RESPONSE || msg.id !== id) return;
      done(msg.ok && buffers?.[0] ? new Blob([buffers[0]], { type: msg.mime || "image/png" }) : null);
    }
    model.on("msg:custom", onMessage);
    model.send({ kind: MSG_IMAGE_REQUEST, id });
  });
}

/**
 * @typedef {Object} ImagesPart
 * @property {HTMLElement} field the slots, under their label
 * @property {() => void} draw redraw the slots from the `images` trait
 * @property {() => boolean} waiting an image is on its way to the kernel
 * @property {() => void} destroy revoke the thumbnails' blob URLs
 */

/**
 * @param {FormContext} ctx
 * @param {{ showError: (message: string) => void, onChange: () => void }} hooks
 *   showError: a file could not be read; onChange: the images or the ones in flight changed
 * @returns {ImagesPart}
 */
export function createImages(ctx, hooks) {
  const { model } = ctx;
  /** blob: URLs of thumbnails by image id (files dropped here, or fetched from the kernel) */
  const thumbUrls = new Map();
  /** image ids whose bytes were asked for, so each is fetched once */
  const thumbAsked = new Set();
  /** images sent to the kernel and not yet in the `images` trait */
  const pending = new Map();
  /** @param {SlotInfo["kind"]} kind */
  const maxUpload = (kind) => ctx.limits().uploads?.[kind]?.max_bytes ?? 0;
  /** @param {string} role */
  const kindOf = (role) => SLOTS.find((s) => s.role === role)?.kind ?? "image";

  /**
   * Send one local file to the kernel: its bytes as a buffer (or only its size when over the
   * slot's limit, so the kernel says no without the file crossing the wire).
   * @param {string} role
   * @param {File} file
   */
  async function sendFile(role, file) {
    const id = newImageId();
    pending.set(id, file.name);
    draw();
    if (file.size > maxUpload(kindOf(role))) {
      model.send({ kind: MSG_ADD_IMAGE, role, id, name: file.name, size: file.size });
      return;
    }
    /** @type {ArrayBuffer} */
    let bytes;
    try {
      bytes = await file.arrayBuffer();
    } catch (err) {
      pending.delete(id);
      draw();
      throw err;
    }
    if (kindOf(role) === "image") thumbUrls.set(id, URL.createObjectURL(new Blob([bytes], { type: file.type || "image/png" })));
    model.send({ kind: MSG_ADD_IMAGE, role, id, name: file.name, size: file.size }, undefined, [bytes]);
  }
  /** @param {string} role @param {FileList | File[] | null | undefined} files */
  function sendFiles(role, files) {
    const list = Array.from(files ?? []);
    const slot = SLOTS.find((s) => s.role === role);
    for (const file of slot?.multiple ? list : list.slice(0, 1)) {
      sendFile(role, file).catch((err) => hooks.showError(`Could not read ${file.name}: ${String(err)}`));
    }
  }
  /** @param {string} role @param {string} url */
  function sendUrl(role, url) {
    if (!url.trim()) return;
    const id = newImageId();
    pending.set(id, url.trim());
    hooks.onChange();
    model.send({ kind: MSG_ADD_IMAGE, role, id, url: url.trim() });
  }

  const slots = SLOTS.map((slot) => createSlot(ctx, slot, { sendFiles, sendUrl }));

  /** @param {FormImage} image */
  function thumbnail(image) {
    if (kindOf(image.role) !== "image") return mediaChip(image);
    const img = el("img", { className: "seedance-thumb-img", attrs: { alt: `${image.role.replace("_", " ")}: ${image.name ?? ""}` } });
    // A URL the browser cannot load (offline, private) shows a plain box, not a broken icon.
    img.addEventListener("error", () => img.classList.add("seedance-thumb-broken"), { once: true });
    if (image.kind === "url") img.src = image.url ?? "";
    else if (thumbUrls.has(image.id)) img.src = thumbUrls.get(image.id);
    else if (!thumbAsked.has(image.id)) {
      thumbAsked.add(image.id);
      requestImage(model, image.id, ctx.signal).then((blob) => {
        if (!blob || ctx.signal.aborted) return;
        thumbUrls.set(image.id, URL.createObjectURL(blob));
        draw();
      });
    }
    const caption = [image.name ?? "", image.size ? formatBytes(image.size) : ""].filter(Boolean).join(" · ");
    const remove = el("button", {
      className: "seedance-remove-image",
      text: "✕",
      attrs: { type: "button", "aria-label": `Remove ${image.name ?? "image"}`, title: "Remove" },
    });
    remove.addEventListener("click", () => model.send({ kind: MSG_REMOVE_IMAGE, id: image.id }));
    return el("figure", { className: "seedance-thumb", attrs: { "data-id": image.id } }, [
      img,
      el("figcaption", { className: "seedance-thumb-caption", text: caption, attrs: { title: caption } }),
      remove,
    ]);
  }

  /**
   * A reference video or audio clip: its name, size and length (no picture to draw).
   * @param {FormImage} image
   */
  function mediaChip(image) {
    const seconds = typeof image.seconds === "number" ? `${Math.round(image.seconds * 10) / 10} s` : "";
    const caption = [image.name ?? image.url ?? "", image.size ? formatBytes(image.size) : "", seconds].filter(Boolean).join(" · ");
    const remove = el("button", {
      className: "seedance-remove-image",
      text: "✕",
      attrs: { type: "button", "aria-label": `Remove ${image.name ?? "file"}`, title: "Remove" },
    });
    remove.addEventListener("click", () => model.send({ kind: MSG_REMOVE_IMAGE, id: image.id }));
    return el("figure", { className: "seedance-thumb seedance-thumb-media", attrs: { "data-id": image.id } }, [
      el("span", { className: "seedance-thumb-kind", text: kindOf(image.role) === "video" ? "🎞" : "♪", attrs: { "aria-hidden": "true" } }),
      el("figcaption", { className: "seedance-thumb-caption", text: caption, attrs: { title: caption } }),
      remove,
    ]);
  }

  function draw() {
    /** @type {FormImage[]} */
    const images = model.get("images") ?? [];
    for (const id of images.map((i) => i.id)) pending.delete(id);
    const limits = ctx.limits();
    const counts = slotCounts(limits);
    for (const slot of slots) {
      const most = counts[slot.role] ?? 0;
      const mine = images.filter((i) => i.role === slot.role);
      show(slot.slot, most > 0 || mine.length > 0);
      slot.file.accept = (limits.uploads?.[slot.kind]?.accept ?? []).join(",");
      replaceChildren(slot.thumbs, mine.map(thumbnail));
      setText(slot.title, slot.multiple ? `${slot.label} ${mine.length} / ${most}` : slot.label);
      slot.slot.dataset.filled = String(mine.length > 0);
      slot.slot.dataset.max = String(most);
      const noun = slot.kind === "image" ? "an image" : slot.kind === "video" ? "a video" : "an audio file";
      setText(slot.hint, !slot.multiple && mine.length ? "Drop or choose another to replace it" : `Drop ${noun} here`);
      // A full slot hides its inputs; a single-file slot keeps them (a new file replaces the old).
      show(slot.controls, most > 0 && (!slot.multiple || mine.length < most));
    }
    hooks.onChange();
  }

  // The kernel answers each add-image by the page's id: the image is then listed or refused.
  ctx.onModel("msg:custom", (/** @type {any} */ msg) => {
    if (msg?.kind !== MSG_ADD_IMAGE_RESPONSE || !pending.has(msg.id)) return;
    pending.delete(msg.id);
    if (!msg.ok) {
      const url = thumbUrls.get(msg.id);
      if (url) URL.revokeObjectURL(url);
      thumbUrls.delete(msg.id);
    }
    draw();
  });

  const field = el("div", { className: "seedance-field" }, [
    el("span", { className: "seedance-label", text: "Images and references (optional)" }),
    el("div", { className: "seedance-slots" }, slots.map((s) => s.slot)),
  ]);
  return {
    field,
    draw,
    waiting: () => pending.size > 0,
    destroy() {
      for (const url of thumbUrls.values()) URL.revokeObjectURL(url);
    },
  };
}

/**
 * One slot: its title, thumbnails, file input, URL field, and drop / paste targets.
 * @param {FormContext} ctx
 * @param {SlotInfo} slotInfo
 * @param {{ sendFiles: (role: string, files: FileList | File[] | null | undefined) => void, sendUrl: (role: string, url: string) => void }} send
 */
function createSlot(ctx, { role, label, kind, multiple }, { sendFiles, sendUrl }) {
  const { uid, listen } = ctx;
  const title = el("span", { className: "seedance-slot-title", text: label });
  const thumbs = el("div", { className: "seedance-thumbs" });
  const file = el("input", {
    className: "seedance-file",
    attrs: { type: "file", id: `${uid}-${role}-file`, ...(multiple ? { multiple: "" } : {}) },
  });
  const choose = el("label", { className: "seedance-button seedance-choose", text: "Choose file", attrs: { for: `${uid}-${role}-file` } });
  const url = el("input", {
    className: "seedance-url",
    attrs: {
      type: "url",
      placeholder: kind === "image" ? "paste an image or its URL" : `paste the ${kind}'s URL`,
      "aria-label": `${label} URL`,
    },
  });
  const addUrl = el("button", { className: "seedance-button seedance-add-url", text: "Add", attrs: { type: "button" } });
  const hint = el("span", { className: "seedance-drop-hint", text: "Drop an image here" });
  const controls = el("div", { className: "seedance-slot-controls" }, [hint, file, choose, url, addUrl]);
  const slot = el("div", { className: "seedance-slot", attrs: { "data-role": role, role: "group", "aria-label": label } }, [
    title,
    thumbs,
    controls,
  ]);
  listen(file, "change", () => {
    sendFiles(role, file.files);
    file.value = "";
  });
  listen(addUrl, "click", () => {
    sendUrl(role, url.value);
    url.value = "";
  });
  listen(url, "keydown", (/** @type {KeyboardEvent} */ event) => {
    if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      sendUrl(role, url.value);
      url.value = "";
    }
  });
  // Pasting a file (a screenshot, a copied file) of the slot's kind into the slot adds it.
  listen(slot, "paste", (/** @type {ClipboardEvent} */ event) => {
    const files = Array.from(event.clipboardData?.files ?? []).filter((f) => f.type.startsWith(`${kind}/`));
    if (!files.length) return;
    event.preventDefault();
    sendFiles(role, files);
  });
  listen(slot, "dragover", (/** @type {DragEvent} */ event) => {
    event.preventDefault();
    slot.dataset.dragging = "true";
  });
  listen(slot, "dragleave", () => delete slot.dataset.dragging);
  listen(slot, "drop", (/** @type {DragEvent} */ event) => {
    event.preventDefault();
    delete slot.dataset.dragging;
    const files = event.dataTransfer?.files;
    if (files && files.length) sendFiles(role, files);
    else sendUrl(role, event.dataTransfer?.getData("text/uri-list") || event.dataTransfer?.getData("text/plain") || "");
  });
  return { role, label, kind, multiple, slot, title, thumbs, controls, hint, file };
}
