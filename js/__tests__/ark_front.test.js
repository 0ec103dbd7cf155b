// Ark in the page (issue 14): the form's flex switch (only when jobs go to Ark) and its price note;
// the job card's estimate beside the bill, and what its stop button did.
import { afterEach, describe, expect, it, vi } from "vitest";
import form from "../form.js";
import { createJobCard, detailRows } from "../lib/job_card.js";
import fixture from "./fixtures/model_limits.json";
import { MemoryModel, doneState, runningState } from "./memory_model.js";

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

describe("the job card's bill and cancel outcome", () => {
  it("shows the kernel's estimate-and-bill words, and a billed row in the details", () => {
    const card = createJobCard({ now: () => 5_000_000 });
    const billed = "est. ~$0.52 · billed 108,900 tokens ($0.44)";
    card.update({ ...doneState(), cost_estimate: 0.52, usage_tokens: 108_900, cost_usd: 0.44, cost_text: billed });
    const cost = /** @type {HTMLElement} */ (card.el.querySelector(".seedance-cost"));
    expect(cost.textContent).toBe(billed);
    expect(cost.dataset.billed).toBe("true");
    expect(detailRows({ ...doneState(), usage_tokens: 108_900, cost_usd: 0.44, cost_text: billed })).toContainEqual(["billed", billed]);
    card.destroy();
  });

  it("says what a cancel did, and offers to stop watching a task Ark cannot cancel", () => {
    const onCancel = vi.fn();
    const card = createJobCard({ onCancel, now: () => 5_000_000 });
    card.update(runningState());
    const button = /** @type {HTMLButtonElement} */ (card.el.querySelector("button.seedance-cancel"));
    const result = /** @type {HTMLElement} */ (card.el.querySelector(".seedance-cancel-result"));
    expect(result.hidden).toBe(true);
    button.click();
    expect(button.disabled).toBe(true);
    card.update(runningState()); // a progress tick before the kernel's answer: still waiting
    expect(button.disabled).toBe(true);
    const note = "running: cannot be cancelled once running, still watching (it will be billed); cancel again to stop watching";
    card.update({ ...runningState(), cancel_outcome: "not_cancellable", cancel_text: note });
    expect(result.hidden).toBe(false);
    expect(result.textContent).toBe(note);
    expect(button.disabled).toBe(false);
    expect(button.textContent).toBe("Stop watching");
    button.click();
    expect(onCancel).toHaveBeenCalledTimes(2);
    card.update({ ...runningState(), cancel_outcome: "not_cancellable", cancel_text: note, progress: 50 });
    expect(button.disabled).toBe(true); // the second press is not answered yet
    card.update({
      ...runningState(),
      state: "cancelled",
      status_text: "Cancelled · not billed",
      cancel_outcome: "cancelled",
      cancel_text: "cancelled before it ran: not billed",
    });
    expect(result.textContent).toBe("cancelled before it ran: not billed");
    expect(button.hidden).toBe(true);
    card.destroy();
  });

  it("keeps hostile words from the kernel as text", () => {
    const hostile = '<img src=x onerror="alert(1)">';
    const card = createJobCard({ now: () => 5_000_000 });
    card.update({ ...runningState(), cost_text: hostile, cancel_text: hostile, cancel_outcome: "not_cancellable" });
    expect(card.el.querySelector("img")).toBeNull();
    expect(/** @type {HTMLElement} */ (card.el.querySelector(".seedance-cost")).textContent).toBe(hostile);
    expect(/** @type {HTMLElement} */ (card.el.querySelector(".seedance-cancel-result")).textContent).toBe(hostile);
    card.destroy();
  });
});
