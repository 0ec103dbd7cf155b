// Issue 11: text an attacker controls (prompt, gateway error and code, task id, file name, chips,
// labels) stays text in every view. Each hostile string is rendered in every place data is shown;
// the test fails when any of them becomes an element, an attribute handler or runs a script, and
// when the shown text is not exactly the string (an innerHTML would drop or decode parts of it).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import form from "../form.js";
import gallery from "../gallery.js";
import jobView from "../job_view.js";
import { createJobCard } from "../lib/job_card.js";
import hostile from "./hostile_strings.json";
import { MemoryModel, doneState } from "./memory_model.js";

/** @type {string[]} */
const HOSTILE = hostile.strings;

/** @type {(() => void)[]} */
let cleanups = [];
beforeEach(() => {
  delete (/** @type {any} */ (window).__pwned);
});
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
  document.body.replaceChildren();
});

/**
 * A finished job whose every kernel-written text is `s` (and which also failed to load, so the
 * error and its code show): prompt, status, error, error code, task id, chips, file name, path.
 * @param {string} s
 * @param {Record<string, unknown>} [extra]
 */
function hostileCard(s, extra = {}) {
  const base = doneState();
  return {
    ...base,
    status_text: s,
    prompt: s,
    params: { resolution: s, aspect_ratio: s, duration: 5, audio: true, seed: 7 },
    task_id: s,
    error: s,
    error_code: s,
    video: { ...base.video, file_name: s, path: s, sha256: s },
    provenance: { model: s, seed: 7, package_version: s, request: { prompt: s } },
    ...extra,
  };
}

/**
 * No element, handler attribute or script came out of the data. The form's thumbnails and a card's last
 * frame are the only images the views make themselves.
 * @param {Element} root
 */
function expectInert(root) {
  expect(root.querySelectorAll("script, svg, iframe, object, embed").length).toBe(0);
  // Our own images: the form's thumbnails and a card's last frame (src only ever a blob: URL we made).
  const ours = ["seedance-thumb-img", "seedance-last-frame-img"];
  const strayImages = [...root.querySelectorAll("img")].filter((img) => !ours.some((c) => img.classList.contains(c)));
  expect(strayImages.map((img) => img.outerHTML)).toEqual([]);
  for (const node of root.querySelectorAll("*")) {
    const handlers = [...node.attributes].map((a) => a.name).filter((name) => name.toLowerCase().startsWith("on"));
    expect(handlers).toEqual([]);
  }
  expect(/** @type {any} */ (window).__pwned).toBeUndefined();
}

/** @param {Element} root @param {string} selector */
function q(root, selector) {
  const node = root.querySelector(selector);
  if (!node) throw new Error(`missing ${selector}`);
  return /** @type {HTMLElement} */ (node);
}

/** @param {Element} root @param {string} selector */
function texts(root, selector) {
  return [...root.querySelectorAll(selector)].map((n) => n.textContent);
}

/**
 * The details list as term -> value.
 * @param {Element} root
 */
function details(root) {
  /** @type {Record<string, string | null>} */
  const out = {};
  for (const dt of root.querySelectorAll(".seedance-details-list dt")) out[dt.textContent ?? ""] = dt.nextElementSibling?.textContent ?? null;
  return out;
}

/**
 * The exact text of every field of one job card (a `.seedance-job`) drawn from hostileCard(s).
 * @param {Element} job
 * @param {string} s
 * @param {{ compact?: boolean }} [options]
 */
function expectCardShowsExactly(job, s, options = {}) {
  expect(q(job, ".seedance-status").textContent).toBe(s);
  expect(q(job, ".seedance-prompt-text").textContent).toBe(`“${s}”`);
  expect(q(job, ".seedance-prompt-text").title).toBe(s);
  expect(q(job, ".seedance-error").textContent).toBe(s);
  expect(q(job, ".seedance-task-id").textContent).toBe(s);
  expect(texts(job, ".seedance-chips .seedance-chip").slice(0, 2)).toEqual([s, s]);
  expect(q(job, ".seedance-video-facts .seedance-mono").textContent).toBe(s);
  const rows = details(job);
  expect(rows["task id"]).toBe(s);
  expect(rows["error code"]).toBe(s);
  expect(rows.file).toBe(s);
  expect(rows.sha256).toBe(s);
  if (!options.compact) {
    expect(rows.model).toBe(s);
    expect(rows.seedance_widgets).toBe(s);
    expect(rows.request).toBe(JSON.stringify({ prompt: s }));
  }
}

/** @param {{ render: Function }} view @param {Record<string, unknown>} state */
function mount(view, state) {
  const model = new MemoryModel(state);
  const host = document.createElement("div");
  document.body.appendChild(host);
  const cleanup = view.render({ model, el: host });
  cleanups.push(() => {
    cleanup();
    host.remove();
  });
  return { model, host };
}

describe.each(HOSTILE)("hostile text %j", (s) => {
  it("job card: every field is exactly the text", async () => {
    const card = createJobCard({ loadVideo: () => Promise.resolve("blob:video") });
    cleanups.push(() => card.destroy());
    document.body.appendChild(card.el);
    card.update(hostileCard(s));
    card.showCallbackError(s);
    expectInert(card.el);
    expectCardShowsExactly(card.el, s);
    expect(q(card.el, ".seedance-callback-error").textContent).toBe(s);
    // The download link is named after the file once the video arrived.
    await Promise.resolve();
    expect(q(card.el, "a.seedance-download").getAttribute("download")).toBe(s);
    expectInert(card.el);
    // A running card shows the same fields (and its ETA line) without markup either.
    card.update(hostileCard(s, { state: "running", video: null, finished_at: null, eta_seconds: 30 }));
    expectInert(card.el);
    expect(q(card.el, ".seedance-error").textContent).toBe(s);
  });

  it("JobView: traits and the callback error are text", async () => {
    const { host } = mount(jobView, { ...hostileCard(s), callback_error: s });
    await Promise.resolve();
    expectInert(host);
    expectCardShowsExactly(q(host, ".seedance-job"), s);
    expect(q(host, ".seedance-callback-error").textContent).toBe(s);
  });

  it("gallery: title, error, row and column labels, cells", async () => {
    const { host } = mount(gallery, {
      rows: "prompt",
      cols: "seed",
      row_labels: [s],
      col_labels: [s],
      cells: [{ row: 0, col: 0, card: { ...hostileCard(s), id: "j1", seed_used: 7 } }],
      title: s,
      error: s,
    });
    await Promise.resolve();
    expectInert(host);
    expect(q(host, ".seedance-gallery-title").textContent).toBe(s);
    expect(q(host, ".seedance-gallery-error").textContent).toBe(s);
    for (const label of [q(host, ".seedance-gallery-row-label"), q(host, ".seedance-gallery-col-label")]) {
      expect(label.textContent).toBe(s);
      expect(label.title).toBe(s);
    }
    expectCardShowsExactly(q(host, ".seedance-gallery-cell .seedance-job"), s, { compact: true });
  });

  it("form: history cards, compare, images, summary and errors", () => {
    const history = [
      { ...hostileCard(s), id: "j2", seed_used: 7 },
      { ...hostileCard(s), id: "j1", seed_used: 7 },
    ];
    const { host } = mount(form, {
      prompt: s,
      duration: 5,
      aspect_ratio: "16:9",
      resolution: "720p",
      audio: false,
      camera_fixed: false,
      seed_mode: "random",
      seed: 0,
      images: [{ id: "i1", role: "reference_image", kind: "file", url: null, name: s, size: 5, mime: "image/png" }],
      limits: {},
      invalid_reason: s,
      estimate_usd: 0.1,
      output_label: s,
      last_seed: 7,
      error: s,
      backend: s,
      session: s,
      history,
      compare: ["j2", "j1"],
    });
    expectInert(host);
    expect(/** @type {HTMLTextAreaElement} */ (q(host, "textarea.seedance-prompt")).value).toBe(s);
    expect(q(host, ".seedance-form-error").textContent).toBe(s);
    expect(q(host, ".seedance-invalid").textContent).toBe(s);
    expect(q(host, ".seedance-output").textContent).toBe(s);
    expect(q(host, ".seedance-backend").textContent).toBe(s);
    expect(q(host, ".seedance-running").textContent).toBe(` · ${s}`);
    // Thumbnail: its caption, alt text and the remove button's name.
    expect(q(host, ".seedance-thumb-caption").textContent).toBe(`${s} · 5 B`);
    expect(q(host, ".seedance-thumb-caption").title).toBe(`${s} · 5 B`);
    expect(q(host, ".seedance-thumb-img").getAttribute("alt")).toBe(`reference image: ${s}`);
    expect(q(host, ".seedance-remove-image").getAttribute("aria-label")).toBe(`Remove ${s}`);
    // History cards and the side-by-side view.
    const cards = [...host.querySelectorAll(".seedance-card .seedance-job")];
    expect(cards).toHaveLength(2);
    for (const job of cards) expectCardShowsExactly(job, s, { compact: true });
    expect(texts(host, ".seedance-compare-prompt")).toEqual([s, s]);
    for (const pane of host.querySelectorAll(".seedance-compare-pane")) {
      expect(texts(pane, ".seedance-chip").slice(0, 2)).toEqual([s, s]);
    }
  });
});
