// Issue 13 on the job card: the saved last frame as a thumbnail (fetched from the kernel on request),
// "Continue from here (paid)" that asks first (only its yes sends MSG_CONTINUE, once), and "no
// estimate" said plainly for a model without a list price, never a number.
import { afterEach, describe, expect, it, vi } from "vitest";
import gallery from "../gallery.js";
import jobView from "../job_view.js";
import { createJobCard } from "../lib/job_card.js";
import { MSG_CONTINUE, MSG_LAST_FRAME_REQUEST, MSG_LAST_FRAME_RESPONSE } from "../lib/messages.js";
import { MemoryModel, doneState } from "./memory_model.js";

const FRAME = { file_name: "ab12-kite.last.png", path: "seedance_outputs/videos/ab12-kite.last.png", size: 4, can_continue: true };

/** @param {Element} root @param {string} selector */
function q(root, selector) {
  const node = root.querySelector(selector);
  if (!node) throw new Error(`missing ${selector}`);
  return /** @type {HTMLElement} */ (node);
}

afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
});

describe("last frame and continue on a job card", () => {
  it("shows the frame it fetched, and continues only after the confirmation's yes", async () => {
    vi.spyOn(URL, "createObjectURL").mockImplementation(() => "blob:frame");
    vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => {});
    const onContinue = vi.fn();
    const loadLastFrame = vi.fn(() => Promise.resolve(new Blob([new Uint8Array([1, 2, 3, 4])], { type: "image/png" })));
    const card = createJobCard({ onContinue, loadLastFrame });
    card.update({ ...doneState(), last_frame: FRAME });
    expect(loadLastFrame).toHaveBeenCalledOnce();
    expect(card.el.querySelector("img")).toBeNull(); // no image element until the frame arrived
    await vi.waitFor(() => expect(/** @type {HTMLImageElement} */ (q(card.el, "img.seedance-last-frame-img")).src).toBe("blob:frame"));
    expect(q(card.el, ".seedance-last-frame").hidden).toBe(false);
    card.update({ ...doneState(), last_frame: FRAME, progress: 100 });
    expect(loadLastFrame).toHaveBeenCalledOnce(); // fetched once per frame

    const button = /** @type {HTMLButtonElement} */ (q(card.el, "button.seedance-continue"));
    const confirm = q(card.el, ".seedance-continue-confirm");
    expect(button.hidden).toBe(false);
    expect(button.textContent).toBe("Continue from here (paid)");
    button.click();
    expect(onContinue).not.toHaveBeenCalled();
    expect(confirm.hidden).toBe(false);
    expect(q(confirm, ".seedance-continue-question").textContent).toContain("≈ $0.26 (estimate)");
    q(confirm, "button.seedance-continue-no").click();
    expect(onContinue).not.toHaveBeenCalled();
    button.click();
    const yes = q(confirm, "button.seedance-continue-yes");
    yes.click();
    yes.click(); // a double click lands on a closed confirmation
    expect(onContinue).toHaveBeenCalledOnce();
    card.destroy();
  });

  it("offers no continue without a frame, or where the model takes no first frame", () => {
    const card = createJobCard({ onContinue: () => {}, loadLastFrame: () => Promise.resolve(null) });
    card.update(doneState());
    expect(q(card.el, "button.seedance-continue").hidden).toBe(true);
    expect(q(card.el, ".seedance-last-frame").hidden).toBe(true);
    card.update({ ...doneState(), last_frame: { ...FRAME, can_continue: false } });
    expect(q(card.el, "button.seedance-continue").hidden).toBe(true);
    expect(q(card.el, ".seedance-last-frame").hidden).toBe(false);
    card.destroy();
  });

  it("says no estimate, never a number, when the model has no list price", () => {
    const onContinue = vi.fn();
    const card = createJobCard({ onContinue });
    card.update({ ...doneState(), cost_estimate: null, last_frame: FRAME });
    expect(q(card.el, ".seedance-cost").textContent).toBe("no estimate");
    expect(q(card.el, ".seedance-cost").hidden).toBe(false);
    q(card.el, "button.seedance-continue").click();
    const question = q(card.el, ".seedance-continue-question").textContent ?? "";
    expect(question).toContain("no estimate");
    expect(question).not.toMatch(/\$\d/);
    // A task attached by id (no settings known) shows no cost line at all.
    card.update({ ...doneState(), cost_estimate: null, params: {} });
    expect(q(card.el, ".seedance-cost").hidden).toBe(true);
    card.destroy();
  });
});

describe("the widgets send the continue and frame messages", () => {
  it("JobView: MSG_CONTINUE with its id; the frame is asked for with MSG_LAST_FRAME_REQUEST", () => {
    const model = new MemoryModel({ ...doneState(), last_frame: FRAME, again: [] });
    const host = document.createElement("div");
    const cleanup = jobView.render({ model, el: host });
    const ask = model.sent.find((m) => m.content.kind === MSG_LAST_FRAME_REQUEST);
    expect(ask?.content).toMatchObject({ kind: MSG_LAST_FRAME_REQUEST });
    model.emit("msg:custom", { kind: MSG_LAST_FRAME_RESPONSE, id: ask?.content.id, ok: false, error: "gone" }, []);
    q(host, "button.seedance-continue").click();
    q(host, "button.seedance-continue-yes").click();
    expect(model.sent.at(-1)?.content).toEqual({ kind: MSG_CONTINUE, id: "j1" });
    cleanup();
  });

  it("gallery: MSG_CONTINUE names the cell's job", () => {
    const model = new MemoryModel({
      rows: null,
      cols: "model",
      row_labels: [""],
      col_labels: ["Seedance 2 (seedance-2)"],
      cells: [{ row: 0, col: 0, card: { ...doneState(), id: "j1", last_frame: FRAME } }],
      title: "1 of 1 done",
      error: "",
    });
    const host = document.createElement("div");
    const cleanup = gallery.render({ model, el: host });
    const ask = model.sent.find((m) => m.content.kind === MSG_LAST_FRAME_REQUEST);
    expect(ask?.content.job).toBe("j1");
    q(host, "button.seedance-continue").click();
    q(host, "button.seedance-continue-yes").click();
    expect(model.sent.at(-1)?.content).toEqual({ kind: MSG_CONTINUE, id: "j1" });
    cleanup();
  });
});
