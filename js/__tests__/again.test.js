// "Generate again (paid)": the page asks before anything is spent. Only the confirmation's
// "Generate (paid)" sends MSG_GENERATE_AGAIN, once; the first click, Cancel and Escape send nothing.
import { afterEach, describe, expect, it, vi } from "vitest";
import gallery from "../gallery.js";
import jobView from "../job_view.js";
import { createJobCard } from "../lib/job_card.js";
import { MSG_GENERATE_AGAIN } from "../lib/messages.js";
import { inExportedPage } from "../lib/static_page.js";
import { MemoryModel, doneState, runningState } from "./memory_model.js";

/** @param {Element} root @param {string} selector */
function q(root, selector) {
  const node = root.querySelector(selector);
  if (!node) throw new Error(`missing ${selector}`);
  return /** @type {HTMLElement} */ (node);
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("Generate again on a job card", () => {
  it("asks first: the button opens a confirmation that names the estimate; only its yes sends", () => {
    const onGenerateAgain = vi.fn();
    const card = createJobCard({ onGenerateAgain });
    card.update(doneState());
    const again = /** @type {HTMLButtonElement} */ (q(card.el, "button.seedance-again"));
    const confirm = q(card.el, ".seedance-again-confirm");
    expect(again.hidden).toBe(false);
    expect(again.textContent).toBe("Generate again (paid)");
    expect(confirm.hidden).toBe(true);

    again.click();
    expect(onGenerateAgain).not.toHaveBeenCalled();
    expect(confirm.hidden).toBe(false);
    expect(again.hidden).toBe(true);
    expect(q(confirm, ".seedance-again-question").textContent).toContain("≈ $0.26 (estimate)");

    q(confirm, "button.seedance-again-no").click(); // Cancel: closed, nothing sent
    expect(onGenerateAgain).not.toHaveBeenCalled();
    expect(confirm.hidden).toBe(true);
    expect(again.hidden).toBe(false);

    again.click();
    confirm.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(confirm.hidden).toBe(true);
    expect(onGenerateAgain).not.toHaveBeenCalled();

    again.click();
    const yes = q(confirm, "button.seedance-again-yes");
    yes.click();
    yes.click(); // a double click lands on a closed confirmation
    expect(onGenerateAgain).toHaveBeenCalledOnce();
    expect(confirm.hidden).toBe(true);
    card.destroy();
  });

  it("is offered only once the job ended and its settings are known", () => {
    const card = createJobCard({ onGenerateAgain: () => {} });
    card.update(runningState());
    expect(q(card.el, "button.seedance-again").hidden).toBe(true);
    card.update({ ...doneState(), params: {} }); // attached by task id: settings unknown
    expect(q(card.el, "button.seedance-again").hidden).toBe(true);
    card.update({ ...doneState(), state: "failed", task_id: "", video: null, error: "refused" });
    expect(q(card.el, "button.seedance-again").hidden).toBe(false);
    expect(q(card.el, ".seedance-actions").hidden).toBe(false);
    card.destroy();
    const plain = createJobCard({});
    plain.update(doneState());
    expect(plain.el.querySelector("button.seedance-again")).toBeNull();
    plain.destroy();
  });

  it("JobView sends the job's id after confirmation and shows the new jobs under its card", () => {
    const model = new MemoryModel({ ...doneState(), again: [] });
    const el = document.createElement("div");
    document.body.appendChild(el);
    const cleanup = jobView.render({ model: /** @type {any} */ (model), el });
    expect(q(el, ".seedance-again-section").hidden).toBe(true);
    const agains = () => model.sent.map((m) => m.content).filter((c) => c.kind === MSG_GENERATE_AGAIN);
    q(el, "button.seedance-again").click();
    expect(agains()).toEqual([]);
    q(el, "button.seedance-again-yes").click();
    expect(agains()).toEqual([{ kind: MSG_GENERATE_AGAIN, id: "j1" }]);

    model.set("again", [{ ...runningState(), id: "j2", local_id: "j2" }]);
    const section = q(el, ".seedance-again-section");
    expect(section.hidden).toBe(false);
    const cards = section.querySelectorAll(".seedance-job");
    expect(cards.length).toBe(1);
    expect(/** @type {HTMLElement} */ (cards[0]).dataset.id).toBe("j2");
    expect(/** @type {HTMLElement} */ (cards[0]).dataset.state).toBe("running");
    cleanup();
  });
});

describe("in an exported page (nbconvert HTML whose widget manager loaded)", () => {
  it("the views draw nothing: the static twin beside them shows the job", () => {
    const state = document.createElement("script");
    state.type = "application/vnd.jupyter.widget-state+json";
    state.textContent = "{}";
    document.body.appendChild(state);
    expect(inExportedPage()).toBe(true);
    const el = document.createElement("div");
    document.body.appendChild(el);
    const model = new MemoryModel(doneState());
    const cleanup = jobView.render({ model: /** @type {any} */ (model), el });
    const grid = gallery.render({ model: /** @type {any} */ (new MemoryModel({ cells: [] })), el });
    expect(el.childElementCount).toBe(0);
    expect(model.sent).toEqual([]); // no video request to a kernel that is not there
    cleanup();
    grid();
  });
});
