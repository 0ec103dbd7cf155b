// Issue 13: the JS form builds every control from the `limits` trait, for every model of the catalogue.
// fixtures/model_limits.json is written from the catalogue by tests/magic/test_model_agreement.py (which
// also checks it is current, and that the kernel accepts and refuses the same values): per model, the
// limits SeedanceForm sends, every value the model allows and the first one outside. Here the form is
// drawn from each model's limits and must offer exactly the allowed values. A grep test then checks
// that no limit is written in js/ itself.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import form from "../form.js";
import { offeredValues, parseSeed } from "../form/parameters.js";
import fixture from "./fixtures/model_limits.json";
import { MemoryModel } from "./memory_model.js";

/**
 * @typedef {Object} ModelCase
 * @property {Record<string, any>} limits
 * @property {{ durations: number[], resolutions: string[], ratios: string[], switches: Record<string, boolean>, seed_max: number | null, slots: Record<string, number> }} accept
 * @property {{ durations: number[], resolution: string, ratio: string, seed: number, slots: Record<string, number> }} refuse
 */
const MODELS = /** @type {Record<string, ModelCase>} */ (/** @type {unknown} */ (fixture.models));

/** @type {(() => void)[]} */
let cleanups = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

/** @param {string} id */
function mount(id) {
  const { limits } = MODELS[id];
  const model = new MemoryModel({
    model: id,
    model_choices: Object.entries(MODELS).map(([key, m]) => ({ id: key, label: m.limits.label, family: m.limits.family, unconfirmed: false })),
    model_note: "",
    prompt: "a cat",
    duration: limits.durations.default,
    aspect_ratio: limits.default_ratio,
    resolution: limits.default_resolution,
    audio: false,
    camera_fixed: false,
    return_last_frame: false,
    web_search: false,
    seed_mode: "fixed",
    seed: 0,
    images: [],
    limits,
    invalid_reason: "",
    estimate_usd: null,
    output_label: "",
    last_seed: null,
    error: "",
    backend: "",
    session: "",
    history: [],
    compare: [],
    edit_seq: 0,
  });
  const host = document.createElement("div");
  document.body.appendChild(host);
  const cleanup = form.render({ model, el: host });
  cleanups.push(() => {
    cleanup();
    host.remove();
  });
  const $ = (/** @type {string} */ s) => /** @type {HTMLElement} */ (host.querySelector(s));
  const $$ = (/** @type {string} */ s) => /** @type {HTMLElement[]} */ ([...host.querySelectorAll(s)]);
  return { model, host, $, $$ };
}

/** @param {HTMLElement | null} node visible: it and none of its ancestors is hidden */
function visible(node) {
  for (let n = node; n; n = n.parentElement) if (n.hidden) return false;
  return Boolean(node);
}

describe.each(Object.keys(MODELS))("the form for %s", (id) => {
  const { accept, refuse } = MODELS[id];

  it("offers exactly the values the model allows (offeredValues)", () => {
    const offered = offeredValues(MODELS[id].limits);
    expect(offered.durations).toEqual(accept.durations.filter((s) => s > 0));
    expect(offered.resolutions).toEqual(accept.resolutions);
    expect(offered.ratios).toEqual(accept.ratios);
    expect(offered.slots).toEqual(accept.slots);
    for (const seconds of refuse.durations) expect(offered.durations).not.toContain(seconds);
    expect(offered.resolutions).not.toContain(refuse.resolution);
    expect(offered.ratios).not.toContain(refuse.ratio);
  });

  it("draws every control from the limits", () => {
    const { $, $$ } = mount(id);
    expect($("select.seedance-model")).not.toBeNull();
    expect(/** @type {HTMLSelectElement} */ ($("select.seedance-model")).value).toBe(id);
    // Durations: the slider's range, and "auto" where the model picks the length.
    const positive = accept.durations.filter((s) => s > 0);
    const slider = /** @type {HTMLInputElement} */ ($("input.seedance-duration"));
    expect([Number(slider.min), Number(slider.max)]).toEqual([positive[0], positive.at(-1)]);
    for (const seconds of refuse.durations) expect(seconds < Number(slider.min) || seconds > Number(slider.max)).toBe(true);
    const hasAuto = accept.durations.some((s) => s <= 0);
    expect(visible(/** @type {HTMLElement} */ ($("input.seedance-duration-auto").closest("label")))).toBe(hasAuto);
    // Resolutions and ratios: one button per allowed value, none for the first outside.
    expect($$("button.seedance-resolution").map((b) => b.dataset.value)).toEqual(accept.resolutions);
    expect($(`button.seedance-resolution[data-value="${refuse.resolution}"]`)).toBeNull();
    expect($$("button.seedance-ratio").map((b) => b.dataset.ratio)).toEqual(accept.ratios);
    expect($(`button.seedance-ratio[data-ratio="${refuse.ratio}"]`)).toBeNull();
    // Switches: shown where offered, hidden where not.
    const switches = {
      audio: "input.seedance-audio",
      camera_fixed: "input.seedance-camera-fixed",
      return_last_frame: "input.seedance-return-last-frame",
      web_search: "input.seedance-web-search",
    };
    for (const [name, selector] of Object.entries(switches)) expect(visible($(selector)), name).toBe(accept.switches[name]);
    // Slots: shown where the model takes the role, with its count.
    for (const [role, count] of Object.entries(accept.slots)) {
      const slot = $(`.seedance-slot[data-role=${role}]`);
      expect(visible(slot), role).toBe(count > 0);
      expect(slot.dataset.max).toBe(String(count));
    }
  });

  it("takes the largest seed and refuses the first one above", () => {
    const { model, $ } = mount(id);
    const seed = /** @type {HTMLInputElement} */ ($("input.seedance-seed"));
    expect(visible(seed)).toBe(accept.seed_max !== null);
    if (accept.seed_max === null) return;
    seed.value = String(accept.seed_max);
    seed.dispatchEvent(new Event("input"));
    expect(model.get("seed")).toBe(accept.seed_max);
    seed.value = String(refuse.seed);
    seed.dispatchEvent(new Event("input"));
    expect(model.get("seed")).toBe(accept.seed_max);
    expect(seed.getAttribute("aria-invalid")).toBe("true");
    expect(parseSeed(String(refuse.seed), accept.seed_max)).toBeNull();
  });

  it("a full slot stops taking files", () => {
    const images = Object.entries(accept.slots).flatMap(([role, count]) =>
      Array.from({ length: count }, (_, i) => ({ id: `${role}-${i}`, role, kind: "url", url: `https://e.com/${role}/${i}`, name: `${i}` })),
    );
    const { model, $ } = mount(id);
    model.set("images", images);
    for (const [role, count] of Object.entries(accept.slots)) {
      if (!count) continue;
      const slot = $(`.seedance-slot[data-role=${role}]`);
      const multiple = role.startsWith("reference");
      expect(visible(/** @type {HTMLElement} */ (slot.querySelector(".seedance-slot-controls"))), role).toBe(!multiple);
      if (multiple) expect(slot.querySelector(".seedance-slot-title")?.textContent).toContain(`${count} / ${count}`);
    }
  });
});

describe("switching model", () => {
  it("rebuilds the controls from the new limits", () => {
    const { model, $$ } = mount("doubao-seedance-1-5-pro");
    expect($$("button.seedance-resolution").map((b) => b.dataset.value)).toEqual(MODELS["doubao-seedance-1-5-pro"].accept.resolutions);
    model.update({ model: "seedance-2", limits: MODELS["seedance-2"].limits, model_note: "Switched to Seedance 2: every setting still fits." });
    expect($$("button.seedance-resolution").map((b) => b.dataset.value)).toEqual(MODELS["seedance-2"].accept.resolutions);
    expect($$("button.seedance-ratio").map((b) => b.dataset.ratio)).toEqual(MODELS["seedance-2"].accept.ratios);
    expect($$(".seedance-model-note")[0].textContent).toContain("Switched to Seedance 2");
  });

  it("the picker sets the model trait", () => {
    const { model, $$ } = mount("doubao-seedance-1-5-pro");
    const select = /** @type {HTMLSelectElement} */ ($$("select.seedance-model")[0]);
    expect([...select.options].map((o) => o.value)).toEqual(Object.keys(MODELS));
    select.value = "seedance-2";
    select.dispatchEvent(new Event("change"));
    expect(model.get("model")).toBe("seedance-2");
  });
});

// ---- no limit written in js/ -----------------------------------------------------------------------

const JS_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Every front-end source file (not the tests, not the build script). */
function sources() {
  /** @type {string[]} */
  const files = [];
  for (const dir of [JS_ROOT, join(JS_ROOT, "form"), join(JS_ROOT, "lib")]) {
    for (const name of readdirSync(dir)) if (name.endsWith(".js")) files.push(join(dir, name));
  }
  return files;
}

/** The code without its comments (an example in a comment is not a limit). */
function code(/** @type {string} */ text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** Patterns of limits that belong to the catalogue, not to js/. */
const LITERAL_LIMITS = [
  /\b(?:480|720|1080|2160)p\b/i, // resolutions
  /\b4k\b/i,
  /["'`]\d{1,2}:\d{1,2}["'`]/, // aspect ratios as strings
  /\badaptive\b/,
  /4294967295|2\s*\*\*\s*32/, // the seed range
  /\b2000\b/, // the prompt cap
  /\d+\s*\*\s*1024\s*\*\s*1024/, // upload caps
  /\b(?:min|max)_duration\b/, // the old per-model duration fields
  /\?\?\s*(?:4|12|15)\b/, // a duration range as a fallback
];

describe("no literal limits in js/", () => {
  it("reads every limit from the limits trait", () => {
    const found = [];
    for (const file of sources()) {
      const text = code(readFileSync(file, "utf8"));
      for (const pattern of LITERAL_LIMITS) {
        const hit = text.match(pattern);
        if (hit) found.push(`${file.slice(JS_ROOT.length + 1)}: ${hit[0]}`);
      }
    }
    expect(found).toEqual([]);
  });
});
