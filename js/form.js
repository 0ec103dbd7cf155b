// SeedanceForm: the inline generation form and its history of submissions.
// The kernel's traits are the one source of truth: controls draw from them and set them back;
// everything else (generate, images, reuse, compare, videos) goes as {kind: ...} messages.
// Every piece of text from the kernel is set with textContent.
import "./form.css";
import { el, replaceChildren, setText, show } from "./lib/dom.js";
import { formatBytes, formatCost, paramChips } from "./lib/format.js";
import { createJobCard } from "./lib/job_card.js";
import { requestVideo } from "./lib/video_channel.js";

/** Custom message kinds; seedance_widgets/widgets/form.py names the same strings. */
export const MSG = Object.freeze({
  GENERATE: "generate",
  ADD_IMAGE: "add-image",
  ADD_IMAGE_RESPONSE: "add-image-response",
  REMOVE_IMAGE: "remove-image",
  IMAGE_REQUEST: "image-request",
  IMAGE_RESPONSE: "image-response",
  REUSE_SETTINGS: "reuse-settings",
  COMPARE: "compare",
  COMPARE_CLOSE: "compare-close",
  CANCEL: "cancel",
});

/** Image slots in reading order: role, label, how many images it holds. */
const SLOTS = [
  { role: "first_frame", label: "First frame", multiple: false },
  { role: "last_frame", label: "Last frame", multiple: false },
  { role: "reference_image", label: "References", multiple: true },
];

const ACCEPT = "image/png,image/jpeg,image/webp,image/gif";

/** The parameter traits (seedance_widgets/widgets/form.py PARAM_TRAITS). */
export const PARAM_NAMES = ["prompt", "duration", "aspect_ratio", "resolution", "audio", "seed_mode", "seed", "camera_fixed"];

/**
 * @typedef {Object} AnyModel
 * @property {(name: string) => any} get
 * @property {(name: string, value: unknown) => void} set
 * @property {(event: string, cb: (...args: any[]) => void) => void} on
 * @property {(event: string, cb: (...args: any[]) => void) => void} off
 * @property {(content: object, callbacks?: unknown, buffers?: ArrayBuffer[]) => void} send
 * @property {() => void} save_changes
 */

/**
 * Width and height (px) of the little shape drawn for an aspect ratio: equal areas, so the
 * shapes compare as frames do.
 * @param {string} ratio "16:9"
 * @returns {{ width: number, height: number }}
 */
export function ratioShape(ratio) {
  const [a, b] = ratio.split(":").map(Number);
  if (!a || !b) return { width: 30, height: 30 };
  const scale = Math.sqrt(900 / (a * b));
  return { width: Math.round(a * scale), height: Math.round(b * scale) };
}

/**
 * Parse the fixed-seed field: an integer from 0 to max, else null.
 * @param {string} text
 * @param {number} max
 * @returns {number | null}
 */
export function parseSeed(text, max) {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return null;
  const value = Number(trimmed);
  return Number.isSafeInteger(value) && value <= max ? value : null;
}

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
     * @param {DataView[]} buffers
     */
    function onMessage(msg, buffers) {
      if (!msg || msg.kind !== MSG.IMAGE_RESPONSE || msg.id !== id) return;
      done(msg.ok && buffers?.[0] ? new Blob([buffers[0]], { type: msg.mime || "image/png" }) : null);
    }
    model.on("msg:custom", onMessage);
    model.send({ kind: MSG.IMAGE_REQUEST, id });
  });
}

/**
 * A segmented control: one button per value, aria-pressed on the chosen one.
 * @param {string} className class of each button (a DOM hook)
 * @param {string[]} values
 * @param {string} label accessible name of the group
 * @param {(value: string) => void} onPick
 */
function segmented(className, values, label, onPick) {
  const buttons = values.map((value) =>
    el("button", { className: `${className} seedance-seg-button`, text: value, attrs: { type: "button", "data-value": value } }),
  );
  for (const button of buttons) button.addEventListener("click", () => onPick(button.dataset.value ?? ""));
  const group = el("div", { className: "seedance-seg", attrs: { role: "group", "aria-label": label } }, buttons);
  /** @param {string} current */
  function draw(current) {
    for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.value === current));
  }
  return { group, buttons, draw };
}

let formCounter = 0;

/**
 * @param {{ model: AnyModel, el: HTMLElement }} context
 * @returns {() => void} cleanup
 */
function render({ model, el: host }) {
  formCounter += 1;
  const uid = `seedance-form-${formCounter}`;
  /** @type {(() => void)[]} */
  const cleanups = [];
  /** aborts the kernel requests (videos, thumbnails) still in flight when the view goes away */
  const inFlight = new AbortController();
  /** Listen to a DOM event and remember to remove it. */
  function listen(/** @type {EventTarget} */ target, /** @type {string} */ type, /** @type {any} */ fn) {
    target.addEventListener(type, fn);
    cleanups.push(() => target.removeEventListener(type, fn));
  }
  /** Listen to a model event and remember to remove it. */
  function onModel(/** @type {string} */ event, /** @type {(...args: any[]) => void} */ fn) {
    model.on(event, fn);
    cleanups.push(() => model.off(event, fn));
  }
  // Ordering. ipywidgets holds back a trait edit while an earlier one is unacknowledged, but
  // sends custom messages at once, so "type, then Ctrl+Enter" could reach the kernel as
  // "generate, then the last keystrokes". Every edit therefore bumps `edit_seq` (sent with it),
  // and actions that depend on the form carry that number and the values the page shows: the
  // kernel applies those first and drops held-back edits that are not newer.
  /** @param {string} name @param {unknown} value */
  function setTrait(name, value) {
    model.set(name, value);
    model.set("edit_seq", (model.get("edit_seq") ?? 0) + 1);
    model.save_changes();
  }
  /** The parameter values this page shows (pending edits included). */
  function shownParams() {
    /** @type {Record<string, unknown>} */
    const params = {};
    for (const name of PARAM_NAMES) params[name] = model.get(name);
    return params;
  }
  const limits = () => model.get("limits") ?? {};

  // ---- prompt ------------------------------------------------------------------------------
  const prompt = el("textarea", {
    className: "seedance-prompt",
    attrs: { id: `${uid}-prompt`, rows: "3", placeholder: "Scene, action, style and camera…", "aria-describedby": `${uid}-count` },
  });
  const charcount = el("span", { className: "seedance-charcount", attrs: { id: `${uid}-count`, "aria-live": "polite" } });
  const promptLabel = el("div", { className: "seedance-label-row" }, [
    el("label", { className: "seedance-label", text: "Prompt", attrs: { for: `${uid}-prompt` } }),
    charcount,
  ]);
  listen(prompt, "input", () => setTrait("prompt", prompt.value));

  // ---- duration, resolution, seed, switches ---------------------------------------------------
  const duration = el("input", {
    className: "seedance-duration",
    attrs: { type: "range", id: `${uid}-duration`, step: "1" },
  });
  const durationValue = el("output", { className: "seedance-duration-value", attrs: { for: `${uid}-duration` } });
  listen(duration, "input", () => setTrait("duration", Number(duration.value)));
  const durationField = el("div", { className: "seedance-field" }, [
    el("label", { className: "seedance-label", text: "Duration", attrs: { for: `${uid}-duration` } }),
    el("div", { className: "seedance-inline" }, [duration, durationValue]),
  ]);

  const resolution = segmented("seedance-resolution", ["480p", "720p"], "Resolution", (v) => setTrait("resolution", v));
  const resolutionField = el("div", { className: "seedance-field" }, [
    el("span", { className: "seedance-label", text: "Resolution" }),
    resolution.group,
  ]);

  const seedMode = segmented("seedance-seed-mode", ["random", "fixed"], "Seed", (v) => {
    setTrait("seed_mode", v);
    if (v === "fixed") seed.focus();
  });
  const seed = el("input", {
    className: "seedance-seed",
    attrs: { type: "text", inputmode: "numeric", "aria-label": "Fixed seed", size: "10", autocomplete: "off" },
  });
  const seedProblem = el("span", { className: "seedance-seed-problem", attrs: { role: "status" } });
  listen(seed, "input", () => {
    const max = limits().max_seed ?? 4294967295;
    const value = parseSeed(seed.value, max);
    seed.setAttribute("aria-invalid", String(value === null));
    setText(seedProblem, value === null ? `seed must be an integer from 0 to ${max}` : "");
    if (value !== null) setTrait("seed", value);
  });
  const seedField = el("div", { className: "seedance-field" }, [
    el("span", { className: "seedance-label", text: "Seed" }),
    el("div", { className: "seedance-inline" }, [seedMode.group, seed]),
    seedProblem,
  ]);

  const audio = el("input", { className: "seedance-audio", attrs: { type: "checkbox", id: `${uid}-audio` } });
  const camera = el("input", { className: "seedance-camera-fixed", attrs: { type: "checkbox", id: `${uid}-camera` } });
  listen(audio, "change", () => setTrait("audio", audio.checked));
  listen(camera, "change", () => setTrait("camera_fixed", camera.checked));
  const switches = el("div", { className: "seedance-field seedance-switches" }, [
    el("label", { className: "seedance-check", attrs: { for: `${uid}-audio` } }, [audio, el("span", { text: "audio" })]),
    el("label", { className: "seedance-check", attrs: { for: `${uid}-camera` } }, [
      camera,
      el("span", { text: "camera fixed" }),
    ]),
  ]);

  // ---- aspect ratio as shapes -------------------------------------------------------------------
  const ratioButtons = /** @type {string[]} */ (limits().aspect_ratios ?? ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]).map(
    (ratio) => {
      const { width, height } = ratioShape(ratio);
      const shape = el("span", { className: "seedance-ratio-shape", attrs: { "aria-hidden": "true" } });
      shape.style.width = `${width}px`;
      shape.style.height = `${height}px`;
      const button = el("button", { className: "seedance-ratio", attrs: { type: "button", "data-ratio": ratio } }, [
        shape,
        el("span", { className: "seedance-ratio-text", text: ratio }),
      ]);
      listen(button, "click", () => setTrait("aspect_ratio", ratio));
      return button;
    },
  );
  const ratioField = el("div", { className: "seedance-field" }, [
    el("span", { className: "seedance-label", text: "Aspect ratio", attrs: { id: `${uid}-ratio` } }),
    el("div", { className: "seedance-ratios", attrs: { role: "group", "aria-labelledby": `${uid}-ratio` } }, ratioButtons),
  ]);

  // ---- images ------------------------------------------------------------------------------------
  /** blob: URLs of thumbnails by image id (files dropped here, or fetched from the kernel) */
  const thumbUrls = new Map();
  /** image ids whose bytes were asked for, so each is fetched once */
  const thumbAsked = new Set();
  /** images sent to the kernel and not yet in the `images` trait */
  const pending = new Map();

  /**
   * Send one local file to the kernel: its bytes as a buffer (or only its size when over the
   * limit, so the kernel says no without 10+ MB crossing the wire).
   * @param {string} role
   * @param {File} file
   */
  async function sendFile(role, file) {
    const id = newImageId();
    const max = limits().max_upload_bytes ?? 10 * 1024 * 1024;
    pending.set(id, file.name);
    drawImages();
    if (file.size > max) {
      model.send({ kind: MSG.ADD_IMAGE, role, id, name: file.name, size: file.size });
      return;
    }
    /** @type {ArrayBuffer} */
    let bytes;
    try {
      bytes = await file.arrayBuffer();
    } catch (err) {
      pending.delete(id);
      drawImages();
      throw err;
    }
    thumbUrls.set(id, URL.createObjectURL(new Blob([bytes], { type: file.type || "image/png" })));
    model.send({ kind: MSG.ADD_IMAGE, role, id, name: file.name, size: file.size }, undefined, [bytes]);
  }
  /** @param {string} role @param {FileList | File[] | null} files */
  function sendFiles(role, files) {
    const list = Array.from(files ?? []);
    const slot = SLOTS.find((s) => s.role === role);
    for (const file of slot?.multiple ? list : list.slice(0, 1)) {
      sendFile(role, file).catch((err) => showError(`Could not read ${file.name}: ${String(err)}`));
    }
  }
  /** @param {string} role @param {string} url */
  function sendUrl(role, url) {
    if (!url.trim()) return;
    const id = newImageId();
    pending.set(id, url.trim());
    drawValidity();
    model.send({ kind: MSG.ADD_IMAGE, role, id, url: url.trim() });
  }

  const slots = SLOTS.map(({ role, label, multiple }) => {
    const title = el("span", { className: "seedance-slot-title", text: label });
    const thumbs = el("div", { className: "seedance-thumbs" });
    const file = el("input", {
      className: "seedance-file",
      attrs: { type: "file", accept: ACCEPT, id: `${uid}-${role}-file`, ...(multiple ? { multiple: "" } : {}) },
    });
    const choose = el("label", { className: "seedance-button seedance-choose", text: "Choose file", attrs: { for: `${uid}-${role}-file` } });
    const url = el("input", {
      className: "seedance-url",
      attrs: { type: "url", placeholder: "paste an image or its URL", "aria-label": `${label} image URL` },
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
    // Pasting an image (a screenshot, a copied file) into the slot's URL field adds it.
    listen(slot, "paste", (/** @type {ClipboardEvent} */ event) => {
      const files = Array.from(event.clipboardData?.files ?? []).filter((f) => f.type.startsWith("image/"));
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
    return { role, label, multiple, slot, title, thumbs, controls, hint };
  });
  const imagesField = el("div", { className: "seedance-field" }, [
    el("span", { className: "seedance-label", text: "Images (optional)" }),
    el("div", { className: "seedance-slots" }, slots.map((s) => s.slot)),
  ]);

  /** @param {any} image */
  function thumbnail(image) {
    const img = el("img", { className: "seedance-thumb-img", attrs: { alt: `${image.role.replace("_", " ")}: ${image.name ?? ""}` } });
    // A URL the browser cannot load (offline, private) shows a plain box, not a broken icon.
    img.addEventListener("error", () => img.classList.add("seedance-thumb-broken"), { once: true });
    if (image.kind === "url") img.src = image.url;
    else if (thumbUrls.has(image.id)) img.src = thumbUrls.get(image.id);
    else if (!thumbAsked.has(image.id)) {
      thumbAsked.add(image.id);
      requestImage(model, image.id, inFlight.signal).then((blob) => {
        if (!blob || inFlight.signal.aborted) return;
        thumbUrls.set(image.id, URL.createObjectURL(blob));
        drawImages();
      });
    }
    const caption = [image.name ?? "", image.size ? formatBytes(image.size) : ""].filter(Boolean).join(" · ");
    const remove = el("button", {
      className: "seedance-remove-image",
      text: "✕",
      attrs: { type: "button", "aria-label": `Remove ${image.name ?? "image"}`, title: "Remove" },
    });
    remove.addEventListener("click", () => model.send({ kind: MSG.REMOVE_IMAGE, id: image.id }));
    return el("figure", { className: "seedance-thumb", attrs: { "data-id": image.id } }, [
      img,
      el("figcaption", { className: "seedance-thumb-caption", text: caption, attrs: { title: caption } }),
      remove,
    ]);
  }

  function drawImages() {
    /** @type {any[]} */
    const images = model.get("images") ?? [];
    for (const id of images.map((i) => i.id)) pending.delete(id);
    const maxRefs = limits().max_references ?? 4;
    for (const slot of slots) {
      const mine = images.filter((i) => i.role === slot.role);
      replaceChildren(slot.thumbs, mine.map(thumbnail));
      setText(slot.title, slot.multiple ? `${slot.label} ${mine.length} / ${maxRefs}` : slot.label);
      slot.slot.dataset.filled = String(mine.length > 0);
      setText(slot.hint, !slot.multiple && mine.length ? "Drop or choose another to replace it" : "Drop an image here");
      // A full slot hides its inputs; a single-image slot keeps them (a new image replaces the old).
      show(slot.controls, !slot.multiple || mine.length < maxRefs);
    }
    drawValidity();
  }

  // ---- summary panel ---------------------------------------------------------------------------------
  const outputLabel = el("div", { className: "seedance-output" });
  const estimate = el("div", { className: "seedance-estimate", attrs: { "aria-live": "polite" } });
  const seedUsed = el("div", { className: "seedance-seed-used" });
  const backend = el("div", { className: "seedance-backend" });
  const summary = el("aside", { className: "seedance-summary", attrs: { "aria-label": "Summary" } }, [
    el("span", { className: "seedance-label", text: "Output" }),
    outputLabel,
    el("span", { className: "seedance-label", text: "Cost" }),
    estimate,
    el("span", { className: "seedance-label", text: "Last seed used" }),
    seedUsed,
    el("span", { className: "seedance-label", text: "Sends to" }),
    backend,
  ]);

  // ---- footer: reason, generate ------------------------------------------------------------------------
  const invalid = el("div", { className: "seedance-invalid", attrs: { role: "status", id: `${uid}-invalid` } });
  const running = el("span", { className: "seedance-running" });
  const generate = el("button", {
    className: "seedance-generate seedance-button seedance-primary",
    text: "Generate",
    attrs: { type: "button", "aria-describedby": `${uid}-invalid`, title: "Generate (Ctrl/Cmd+Enter)" },
  });
  const hint = el("span", { className: "seedance-hint", text: "Ctrl/Cmd+Enter to generate" });
  const footer = el("div", { className: "seedance-footer" }, [
    el("div", { className: "seedance-footer-text" }, [invalid, el("div", {}, [hint, running])]),
    generate,
  ]);
  const errorBox = el("div", { className: "seedance-form-error", attrs: { role: "alert" } });

  /**
   * Ask the kernel to generate what the page shows. The button is disabled while the kernel
   * says the form is invalid; Ctrl/Cmd+Enter right after typing may beat that verdict (the
   * kernel has not seen the last keystrokes yet), so the shortcut always asks and the kernel,
   * which validates the values sent along, answers with a job or with the reason under the form.
   * @param {boolean} fromShortcut
   */
  function doGenerate(fromShortcut) {
    if (pending.size > 0) return; // an image is still on its way to the kernel
    if (generate.disabled && !fromShortcut) return;
    model.send({ kind: MSG.GENERATE, seq: model.get("edit_seq") ?? 0, params: shownParams() });
  }
  listen(generate, "click", () => doGenerate(false));

  // ---- history and compare ------------------------------------------------------------------------------
  const historyTitle = el("h4", { className: "seedance-history-title" });
  const historyList = el("div", { className: "seedance-history-list" });
  const history = el("section", { className: "seedance-history", attrs: { "aria-label": "History" } }, [
    historyTitle,
    historyList,
  ]);
  const compare = el("section", { className: "seedance-compare", attrs: { "aria-label": "Compare two videos" } });

  /** MP4 blobs by job id, fetched once and shared by the card and the compare view */
  const videoBlobs = new Map();
  /** @param {string} jobId @returns {Promise<Blob>} */
  function videoBlob(jobId) {
    if (!videoBlobs.has(jobId)) {
      const promise = requestVideo(model, { fields: { job: jobId }, signal: inFlight.signal });
      promise.catch(() => videoBlobs.delete(jobId)); // a failure may be retried later
      videoBlobs.set(jobId, promise);
    }
    return videoBlobs.get(jobId);
  }

  /** compare picks made in this view (the kernel's `compare` trait holds the active pair) */
  let picks = /** @type {string[]} */ ([]);
  /** @type {Map<string, { root: HTMLElement, card: ReturnType<typeof createJobCard>, pick: HTMLInputElement, reuse: HTMLButtonElement }>} */
  const cards = new Map();

  /** @param {string} id */
  function makeCard(id) {
    const card = createJobCard({
      compact: true,
      onCancel: () => model.send({ kind: MSG.CANCEL, id }),
      loadVideo: () => videoBlob(id),
    });
    const reuse = el("button", {
      className: "seedance-reuse seedance-button",
      text: "Use these settings again",
      attrs: { type: "button" },
    });
    const pick = el("input", { className: "seedance-compare-pick", attrs: { type: "checkbox", id: `${uid}-pick-${id}` } });
    reuse.addEventListener("click", () => model.send({ kind: MSG.REUSE_SETTINGS, id, seq: model.get("edit_seq") ?? 0 }));
    pick.addEventListener("change", () => {
      picks = pick.checked ? [...picks.filter((p) => p !== id), id].slice(-2) : picks.filter((p) => p !== id);
      if (picks.length === 2) model.send({ kind: MSG.COMPARE, ids: picks });
      else if ((model.get("compare") ?? []).length) model.send({ kind: MSG.COMPARE_CLOSE });
      drawPicks();
    });
    const tools = el("div", { className: "seedance-card-tools" }, [
      reuse,
      el("label", { className: "seedance-check", attrs: { for: `${uid}-pick-${id}` } }, [pick, el("span", { text: "compare" })]),
    ]);
    const root = el("article", { className: "seedance-card", attrs: { "data-id": id } }, [card.el, tools]);
    return { root, card, pick, reuse };
  }

  function drawPicks() {
    for (const [id, entry] of cards) {
      entry.pick.checked = picks.includes(id);
      // Only finished videos can be compared, and only two at a time.
      entry.pick.disabled = entry.root.dataset.state !== "done" || (!entry.pick.checked && picks.length >= 2);
    }
  }

  function drawHistory() {
    /** @type {any[]} */
    const items = model.get("history") ?? [];
    const seen = new Set(items.map((c) => c.id));
    for (const [id, entry] of cards) {
      if (!seen.has(id)) {
        entry.card.destroy();
        cards.delete(id);
      }
    }
    const nodes = items.map((item) => {
      let entry = cards.get(item.id);
      if (!entry) {
        entry = makeCard(item.id);
        cards.set(item.id, entry);
      }
      entry.card.update(item);
      entry.root.dataset.state = item.state;
      return entry.root;
    });
    // Re-append only when the order changed, so playing videos are not interrupted.
    const current = Array.from(historyList.children);
    if (current.length !== nodes.length || nodes.some((n, i) => current[i] !== n)) replaceChildren(historyList, nodes);
    setText(historyTitle, items.length ? `History · ${items.length} job${items.length === 1 ? "" : "s"}` : "");
    show(history, items.length > 0);
    picks = picks.filter((p) => seen.has(p));
    drawPicks();
  }

  /** @type {{ videos: HTMLVideoElement[], urls: string[] } | null} */
  let compareState = null;
  function closeCompareMedia() {
    if (!compareState) return;
    for (const video of compareState.videos) video.pause();
    for (const url of compareState.urls) URL.revokeObjectURL(url);
    compareState = null;
  }

  function drawCompare() {
    /** @type {string[]} */
    const ids = model.get("compare") ?? [];
    const key = ids.join("|");
    if (compare.dataset.key === key) return;
    compare.dataset.key = key;
    closeCompareMedia();
    replaceChildren(compare, []);
    show(compare, ids.length === 2);
    if (ids.length !== 2) return;
    picks = [...ids];
    drawPicks();
    /** @type {any[]} */
    const items = model.get("history") ?? [];
    const state = { videos: /** @type {HTMLVideoElement[]} */ ([]), urls: /** @type {string[]} */ ([]) };
    compareState = state;
    const panes = ids.map((id) => {
      const item = items.find((c) => c.id === id) ?? {};
      const video = el("video", { className: "seedance-compare-video", attrs: { preload: "auto", playsinline: "", muted: "" } });
      video.muted = true;
      state.videos.push(video);
      const note = el("div", { className: "seedance-video-note", text: "Loading video from the kernel…" });
      videoBlob(id).then(
        (blob) => {
          if (compareState !== state) return;
          const url = URL.createObjectURL(blob);
          state.urls.push(url);
          video.src = url;
          note.remove();
        },
        (err) => setText(note, `Could not load the video: ${err instanceof Error ? err.message : String(err)}`),
      );
      const chips = paramChips({ ...(item.params ?? {}), seed: item.seed_used ?? item.params?.seed });
      return el("figure", { className: "seedance-compare-pane", attrs: { "data-id": id } }, [
        video,
        note,
        el("figcaption", {}, [
          el("div", { className: "seedance-compare-prompt", text: item.prompt ?? "" }),
          el("div", { className: "seedance-chips" }, chips.map((text) => el("span", { className: "seedance-chip", text }))),
        ]),
      ]);
    });
    // Synchronised playback: play, pause and seek on either video drive both. Seeks we make
    // ourselves are remembered and not mirrored back, or two playing videos would keep
    // seeking each other and never get past the first frames.
    let syncing = false;
    /** @type {WeakSet<HTMLVideoElement>} */
    const ownSeeks = new WeakSet();
    /** @param {HTMLVideoElement} video @param {number} time */
    function seek(video, time) {
      ownSeeks.add(video);
      video.currentTime = time;
    }
    /** @param {HTMLVideoElement} source @param {(other: HTMLVideoElement) => void} apply */
    function mirror(source, apply) {
      if (syncing) return;
      syncing = true;
      for (const other of state.videos) if (other !== source) apply(other);
      syncing = false;
    }
    const play = el("button", { className: "seedance-button seedance-compare-play", text: "Play both", attrs: { type: "button" } });
    for (const video of state.videos) {
      video.addEventListener("play", () => {
        setText(play, "Pause both");
        mirror(video, (o) => void o.play()?.catch(() => {}));
      });
      video.addEventListener("pause", () => {
        if (state.videos.every((v) => v.paused)) setText(play, "Play both");
        mirror(video, (o) => o.pause());
      });
      video.addEventListener("seeked", () => {
        if (ownSeeks.has(video)) {
          ownSeeks.delete(video);
          return;
        }
        mirror(video, (o) => {
          if (Math.abs(o.currentTime - video.currentTime) > 0.05) seek(o, video.currentTime);
        });
      });
    }
    play.addEventListener("click", () => {
      const playing = state.videos.some((v) => !v.paused);
      for (const video of state.videos) {
        if (playing) video.pause();
        else {
          if (video.ended || video.currentTime > 0) seek(video, 0);
          void video.play()?.catch(() => {});
        }
      }
    });
    const loop = el("input", { className: "seedance-compare-loop", attrs: { type: "checkbox", id: `${uid}-loop` } });
    loop.addEventListener("change", () => {
      for (const video of state.videos) video.loop = loop.checked;
    });
    const close = el("button", { className: "seedance-button seedance-compare-close", text: "Close", attrs: { type: "button" } });
    close.addEventListener("click", () => {
      picks = [];
      drawPicks();
      model.send({ kind: MSG.COMPARE_CLOSE });
    });
    replaceChildren(compare, [
      el("div", { className: "seedance-compare-head" }, [
        el("h4", { className: "seedance-compare-title", text: "Side by side" }),
        play,
        el("label", { className: "seedance-check", attrs: { for: `${uid}-loop` } }, [loop, el("span", { text: "loop" })]),
        close,
      ]),
      el("div", { className: "seedance-compare-panes" }, panes),
    ]);
  }

  // ---- layout ---------------------------------------------------------------------------------------------
  const main = el("div", { className: "seedance-form-main" }, [
    promptLabel,
    prompt,
    el("div", { className: "seedance-row" }, [durationField, resolutionField, seedField, switches]),
    ratioField,
    imagesField,
  ]);
  const root = el("div", { className: "seedance-form", attrs: { role: "form", "aria-label": "Seedance video generation" } }, [
    el("div", { className: "seedance-form-grid" }, [main, summary]),
    footer,
    errorBox,
    compare,
    history,
  ]);
  host.appendChild(root);

  // Ctrl/Cmd+Enter anywhere in the form generates; stop it there so the notebook does not also run the cell.
  listen(root, "keydown", (/** @type {KeyboardEvent} */ event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      event.stopPropagation();
      doGenerate(true);
    }
  });

  /** @param {string} message */
  function showError(message) {
    setText(errorBox, message);
    show(errorBox, Boolean(message));
  }

  // ---- drawing from the traits --------------------------------------------------------------------------------
  function drawPrompt() {
    const value = model.get("prompt") ?? "";
    if (prompt.value !== value) prompt.value = value;
    const max = limits().max_prompt_chars ?? 2000;
    setText(charcount, `${value.length} / ${max}`);
    charcount.dataset.over = String(value.length > max);
  }
  function drawParams() {
    const lim = limits();
    duration.min = String(lim.min_duration ?? 4);
    duration.max = String(lim.max_duration ?? 12);
    duration.value = String(model.get("duration"));
    setText(durationValue, `${model.get("duration")} s`);
    resolution.draw(model.get("resolution"));
    const ratio = model.get("aspect_ratio");
    for (const button of ratioButtons) button.setAttribute("aria-pressed", String(button.dataset.ratio === ratio));
    audio.checked = Boolean(model.get("audio"));
    camera.checked = Boolean(model.get("camera_fixed"));
    const mode = model.get("seed_mode");
    seedMode.draw(mode);
    seed.disabled = mode !== "fixed";
    const seedValue = String(model.get("seed") ?? 0);
    if (document.activeElement !== seed && seed.value !== seedValue) seed.value = seedValue;
    if (parseSeed(seed.value, lim.max_seed ?? 4294967295) === Number(seedValue)) {
      seed.removeAttribute("aria-invalid");
      setText(seedProblem, "");
    }
  }
  function drawValidity() {
    const reason = model.get("invalid_reason") ?? "";
    const waiting = pending.size > 0;
    setText(invalid, reason || (waiting ? "Adding image…" : ""));
    show(invalid, Boolean(reason) || waiting);
    generate.disabled = Boolean(reason) || waiting;
    root.dataset.valid = String(!reason);
  }
  function drawSummary() {
    setText(outputLabel, model.get("output_label") || "—");
    setText(estimate, model.get("invalid_reason") ? "—" : `${formatCost(model.get("estimate_usd"))} · list price, not the gateway's bill`);
    const last = model.get("last_seed");
    setText(seedUsed, last === null || last === undefined ? "—" : String(last));
    setText(backend, model.get("backend") || "—");
    const session = model.get("session") ?? "";
    setText(running, session ? ` · ${session}` : "");
  }
  function drawError() {
    showError(model.get("error") ?? "");
    drawValidity();
  }
  // The kernel answers each add-image by the page's id: the image is then listed or refused.
  onModel("msg:custom", (/** @type {any} */ msg) => {
    if (msg?.kind !== MSG.ADD_IMAGE_RESPONSE || !pending.has(msg.id)) return;
    pending.delete(msg.id);
    if (!msg.ok) {
      const url = thumbUrls.get(msg.id);
      if (url) URL.revokeObjectURL(url);
      thumbUrls.delete(msg.id);
    }
    drawImages();
  });

  const redraws = {
    "change:prompt": drawPrompt,
    "change:duration change:resolution change:aspect_ratio change:audio change:camera_fixed change:seed_mode change:seed": drawParams,
    "change:images": drawImages,
    "change:invalid_reason": () => {
      drawValidity();
      drawSummary();
    },
    "change:estimate_usd change:output_label change:last_seed change:backend change:session": drawSummary,
    "change:error": drawError,
    "change:history": () => {
      drawHistory();
      drawCompare();
    },
    "change:compare": drawCompare,
    "change:limits": () => {
      drawPrompt();
      drawParams();
      drawImages();
    },
  };
  for (const [events, fn] of Object.entries(redraws)) for (const event of events.split(" ")) onModel(event, fn);
  drawPrompt();
  drawParams();
  drawImages();
  drawSummary();
  drawError();
  drawHistory();
  drawCompare();

  return () => {
    for (const cleanup of cleanups) cleanup();
    inFlight.abort();
    for (const entry of cards.values()) entry.card.destroy();
    closeCompareMedia();
    for (const url of thumbUrls.values()) URL.revokeObjectURL(url);
    root.remove();
  };
}

export default { render };
