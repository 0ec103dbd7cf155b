// Ark in the page (issue 14): the form's flex switch (only when jobs go to Ark) and its price note.
import { afterEach, describe, expect, it } from "vitest";
import form from "../form.js";
import fixture from "./fixtures/model_limits.json";
import { MemoryModel } from "./memory_model.js";

const LIMITS = /** @type {Record<string, { limits: Record<string, any> }>} */ (fixture.models);
const PRO_15 = "doubao-seedance-1-5-pro";

/** The form's traits as the kernel sends them, for `provider`. @param {Record<string, unknown>} [overrides] */
function formState(overrides = {}) {
  return {
    model: PRO_15,
    model_choices: [{ id: PRO_15, label: LIMITS[PRO_15].limits.label, family: "1.5", unconfirmed: false }],
    model_note: "",
    prompt: "A night train through snow",
    duration: 5,
    aspect_ratio: "16:9",
    resolution: "720p",
    audio: false,
    camera_fixed: false,
    return_last_frame: false,
    web_search: false,
    flex: false,
    seed_mode: "random",
    seed: 0,
    images: [],
    limits: LIMITS[PRO_15].limits,
    invalid_reason: "",
    estimate_usd: 0.13,
    output_label: "",
    last_seed: null,
    error: "",
    backend: "Ark at http://127.0.0.1:1/api/v3: jobs are billed",
    provider: "ark",
    session: "",
    history: [],
    compare: [],
    ...overrides,
  };
}

/** @type {(() => void)[]} */
let cleanups = [];
/** @param {Record<string, unknown>} state */
function mount(state) {
  const model = new MemoryModel(state);
  const host = document.createElement("div");
  document.body.appendChild(host);
  const cleanup = form.render({ model, el: host });
  cleanups.push(() => {
    cleanup();
    host.remove();
  });
  const $ = (/** @type {string} */ s) => /** @type {HTMLElement} */ (host.querySelector(s));
  return { model, $ };
}

afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

describe("the form's flex switch", () => {
  it("is offered only when jobs go to Ark", () => {
    const { model, $ } = mount(formState({ provider: "toapis" }));
    const flex = /** @type {HTMLInputElement} */ ($("input.seedance-flex"));
    const label = /** @type {HTMLElement} */ (flex.closest("label"));
    expect(label.hidden).toBe(true);
    model.set("provider", "ark");
    expect(label.hidden).toBe(false);
    expect(label.textContent).toBe("flex (offline, half price)");
  });

  it("sets the flex trait, and the estimate says it is the flex price", () => {
    const { model, $ } = mount(formState());
    const flex = /** @type {HTMLInputElement} */ ($("input.seedance-flex"));
    expect($(".seedance-estimate").textContent).toContain("list price");
    flex.checked = true;
    flex.dispatchEvent(new Event("change"));
    expect(model.get("flex")).toBe(true);
    model.set("estimate_usd", 0.065);
    expect($(".seedance-estimate").textContent).toContain("flex price (half the list price)");
  });
});
