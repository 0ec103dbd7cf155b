import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import gallery, { groupCells } from "../gallery.js";
import { MSG_VIDEO_REQUEST, MSG_VIDEO_RESPONSE } from "../lib/messages.js";
import { MemoryModel, doneState, runningState } from "./memory_model.js";

/** @param {string} id @param {Record<string, unknown>} base @param {Record<string, unknown>} [extra] */
function card(id, base, extra = {}) {
  return { ...base, id, seed_used: 1, ...extra };
}

/** Two prompts x two seeds, one still running. */
function gridState() {
  return {
    rows: "prompt",
    cols: "seed",
    row_labels: ["a fox", "a <b>boat</b>"],
    col_labels: ["seed 1", "seed 2"],
    cells: [
      { row: 0, col: 0, card: card("j1", doneState()) },
      { row: 0, col: 1, card: card("j2", doneState()) },
      { row: 1, col: 0, card: card("j3", runningState()) },
      { row: 1, col: 1, card: card("j4", runningState(), { progress: 10 }) },
    ],
    title: "2 of 4 done",
    error: "",
  };
}

/**
 * A stand-in IntersectionObserver (happy-dom's never reports): tests say which cards are in the
 * viewport (observers without a margin) and in the keep zone (observers with one).
 */
class FakeObserver {
  /** @type {FakeObserver[]} */
  static all = [];
  /** @param {(entries: any[]) => void} callback @param {{ rootMargin?: string }} [options] */
  constructor(callback, options = {}) {
    this.callback = callback;
    this.margin = Boolean(options.rootMargin);
    /** @type {Set<Element>} */
    this.targets = new Set();
    FakeObserver.all.push(this);
  }
  /** @param {Element} node */
  observe(node) {
    this.targets.add(node);
  }
  /** @param {Element} node */
  unobserve(node) {
    this.targets.delete(node);
  }
  disconnect() {
    this.targets.clear();
  }
  /** Report `nodes` as inside (or outside) the viewport and the keep zone. */
  static report(/** @type {Element[]} */ nodes, /** @type {{ view: boolean, keep: boolean }} */ where) {
    for (const observer of FakeObserver.all) {
      const isIntersecting = observer.margin ? where.keep : where.view;
      const entries = nodes.filter((n) => observer.targets.has(n)).map((target) => ({ target, isIntersecting }));
      if (entries.length) observer.callback(entries);
    }
  }
}

/** @param {HTMLElement} host @param {string} id */
const cardEl = (host, id) => /** @type {HTMLElement} */ (host.querySelector(`.seedance-job[data-id="${id}"]`));

/** @type {(() => void)[]} */
let cleanups = [];
function mount(state = gridState()) {
  const model = new MemoryModel(state);
  const host = document.createElement("div");
  document.body.appendChild(host);
  const cleanup = gallery.render({ model, el: host });
  cleanups.push(() => {
    cleanup();
    host.remove();
  });
  return { model, host, cleanup };
}

beforeEach(() => {
  FakeObserver.all = [];
  vi.stubGlobal("IntersectionObserver", FakeObserver);
});

afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe("groupCells", () => {
  it("groups cards by position, keeping their order", () => {
    const groups = groupCells([
      { row: 0, col: 1, card: { id: "a" } },
      { row: 0, col: 1, card: { id: "b" } },
      { row: 1, col: 0, card: { id: "c" } },
    ]);
    expect(groups.get("0,1")?.map((c) => c.id)).toEqual(["a", "b"]);
    expect(groups.get("1,0")?.map((c) => c.id)).toEqual(["c"]);
    expect(groups.has("0,0")).toBe(false);
  });
});

describe("Gallery view", () => {
  it("draws labelled rows and columns with one card per cell, labels as text", () => {
    const { host } = mount();
    expect(host.querySelector(".seedance-gallery-title")?.textContent).toBe("2 of 4 done");
    const cols = [...host.querySelectorAll(".seedance-gallery-col-label")].map((n) => n.textContent);
    expect(cols).toEqual(["seed 1", "seed 2"]);
    const rows = [...host.querySelectorAll(".seedance-gallery-row-label")].map((n) => n.textContent);
    expect(rows).toEqual(["a fox", "a <b>boat</b>"]);
    expect(host.querySelector(".seedance-gallery b")).toBeNull();
    const cell = host.querySelector('.seedance-gallery-cell[data-row="1"][data-col="1"]');
    expect(cell?.querySelector(".seedance-job")?.getAttribute("data-state")).toBe("running");
    expect(cell?.querySelector(".seedance-progress")?.getAttribute("aria-valuenow")).toBe("10");
  });

  it("fetches each finished video from the kernel by job id and plays it from a blob", async () => {
    vi.spyOn(URL, "createObjectURL").mockImplementation(() => "blob:cell");
    vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => {});
    const { model, host } = mount();
    FakeObserver.report([...host.querySelectorAll(".seedance-job")], { view: true, keep: true });
    const asks = model.sent.filter((m) => m.content.kind === MSG_VIDEO_REQUEST);
    expect(asks.map((m) => m.content.job).sort()).toEqual(["j1", "j2"]);
    const first = asks.find((m) => m.content.job === "j1");
    model.emit("msg:custom", { kind: MSG_VIDEO_RESPONSE, id: first?.content.id, chunk: 0, chunks: 1, size: 4, mime: "video/mp4" }, [
      new DataView(new Uint8Array([1, 2, 3, 4]).buffer),
    ]);
    const video = /** @type {HTMLVideoElement} */ (host.querySelector('.seedance-gallery-cell[data-row="0"][data-col="0"] video'));
    await vi.waitFor(() => expect(video.src).toBe("blob:cell"));
  });

  it("only players in view fetch; others when they scroll in; far away ones release their blob", async () => {
    const revoke = vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => {});
    vi.spyOn(URL, "createObjectURL").mockImplementation(() => "blob:cell");
    const { model, host } = mount();
    const asked = () => model.sent.filter((m) => m.content.kind === MSG_VIDEO_REQUEST).map((m) => m.content.job);
    expect(asked()).toEqual([]); // nothing in view yet: no bytes asked for
    FakeObserver.report([cardEl(host, "j1")], { view: true, keep: true });
    expect(asked()).toEqual(["j1"]);
    FakeObserver.report([cardEl(host, "j1")], { view: true, keep: true }); // seen again: no second fetch
    expect(asked()).toEqual(["j1"]);
    const ask = model.sent.find((m) => m.content.job === "j1");
    model.emit("msg:custom", { kind: MSG_VIDEO_RESPONSE, id: ask?.content.id, chunk: 0, chunks: 1, size: 1 }, [
      new DataView(new Uint8Array([1]).buffer),
    ]);
    await vi.waitFor(() => expect(cardEl(host, "j1").dataset.video).toBe("loaded"));
    FakeObserver.report([cardEl(host, "j2")], { view: true, keep: true }); // scrolled in
    expect(asked()).toEqual(["j1", "j2"]);
    FakeObserver.report([cardEl(host, "j1")], { view: false, keep: true }); // just out of view: kept
    expect(cardEl(host, "j1").dataset.video).toBe("loaded");
    FakeObserver.report([cardEl(host, "j1")], { view: false, keep: false }); // far away: released
    expect(cardEl(host, "j1").dataset.video).toBe("released");
    expect(revoke).toHaveBeenCalledWith("blob:cell");
    expect(cardEl(host, "j1").querySelector("video")?.getAttribute("src")).toBeNull();
    FakeObserver.report([cardEl(host, "j1")], { view: true, keep: true }); // back in view: fetched again
    expect(asked()).toEqual(["j1", "j2", "j1"]);
  });

  it("without IntersectionObserver every finished player fetches at once", () => {
    vi.stubGlobal("IntersectionObserver", undefined);
    const { model } = mount();
    const asked = model.sent.filter((m) => m.content.kind === MSG_VIDEO_REQUEST).map((m) => m.content.job);
    expect(asked.sort()).toEqual(["j1", "j2"]);
  });

  it("progress updates keep the cards in place; a new layout rebuilds the grid", async () => {
    const { model, host } = mount();
    const before = host.querySelector('[data-id="j3"]');
    const cells = gridState().cells;
    cells[2] = { ...cells[2], card: card("j3", runningState(), { progress: 77 }) };
    model.set("cells", cells);
    await Promise.resolve();
    expect(host.querySelector('[data-id="j3"]')).toBe(before);
    expect(before?.querySelector(".seedance-progress")?.getAttribute("aria-valuenow")).toBe("77");

    model.update({ cols: null, col_labels: [""], cells: cells.map((c) => ({ ...c, col: 0 })) });
    await Promise.resolve();
    expect(host.querySelectorAll(".seedance-gallery-col-label")).toHaveLength(0);
    expect(host.querySelector('.seedance-gallery-cell[data-row="1"][data-col="0"]')?.querySelectorAll(".seedance-job")).toHaveLength(2);
  });

  it("shows the kernel's error and cleans up its listeners", async () => {
    const { model, host, cleanup } = mount();
    model.set("error", "Error while sending a video: OSError");
    await Promise.resolve();
    expect(host.querySelector(".seedance-gallery-error")?.textContent).toBe("Error while sending a video: OSError");
    cleanup();
    cleanups = [];
    expect(model.listenerCount()).toBe(0);
    expect(host.querySelector(".seedance-gallery")).toBeNull();
  });
});
