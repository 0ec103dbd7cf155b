import { afterEach, describe, expect, it, vi } from "vitest";
import jobView from "../job_view.js";
import { MSG_CANCEL, MSG_VIDEO_REQUEST, MSG_VIDEO_RESPONSE } from "../lib/messages.js";
import { MemoryModel, doneState, runningState } from "./memory_model.js";

/** @param {MemoryModel} model */
function mount(model) {
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = jobView.render({ model: /** @type {any} */ (model), el });
  return { el, cleanup };
}

/** @param {Element} root @param {string} selector */
function q(root, selector) {
  const node = root.querySelector(selector);
  if (!node) throw new Error(`missing ${selector}`);
  return /** @type {HTMLElement} */ (node);
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(() => {
  document.body.replaceChildren();
});

describe("JobView", () => {
  it("renders the model and follows trait changes in one redraw per burst", async () => {
    const model = new MemoryModel({ ...runningState(), progress: 10, status_text: "Generating · 10%" });
    const { el, cleanup } = mount(model);
    expect(q(el, ".seedance-job").dataset.state).toBe("running");
    expect(q(el, ".seedance-progress").getAttribute("aria-valuenow")).toBe("10");
    model.update({ progress: 63, status_text: "Generating · 63%" });
    await Promise.resolve(); // redraw happens in a microtask, not a frame later
    expect(q(el, ".seedance-progress").getAttribute("aria-valuenow")).toBe("63");
    expect(q(el, ".seedance-status").textContent).toBe("Generating · 63%");
    cleanup();
  });

  it("sends cancel from the button", () => {
    const model = new MemoryModel(runningState());
    const { el, cleanup } = mount(model);
    q(el, "button.seedance-cancel").click();
    expect(model.sent.map((m) => m.content)).toEqual([{ kind: MSG_CANCEL }]);
    cleanup();
  });

  it("fetches the video from the kernel in chunks and plays it from a blob URL", async () => {
    const createUrl = vi.spyOn(URL, "createObjectURL");
    const model = new MemoryModel(doneState());
    const { el, cleanup } = mount(model);
    expect(model.sent).toHaveLength(1);
    const request = model.sent[0].content;
    expect(request.kind).toBe(MSG_VIDEO_REQUEST);
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    const reply = { kind: MSG_VIDEO_RESPONSE, id: request.id, chunks: 2, size: 5, mime: "video/mp4" };
    // Someone else's reply and an unknown kind are ignored.
    model.emit("msg:custom", { ...reply, id: "other", chunk: 0 }, [new DataView(bytes.buffer, 0, 3)]);
    model.emit("msg:custom", { kind: "something-new" }, []);
    // Chunks may arrive in any order.
    model.emit("msg:custom", { ...reply, chunk: 1 }, [new DataView(bytes.buffer, 3, 2)]);
    model.emit("msg:custom", { ...reply, chunk: 0 }, [new DataView(bytes.buffer, 0, 3)]);
    await flush();
    const video = /** @type {HTMLVideoElement} */ (q(el, "video.seedance-video"));
    const src = video.getAttribute("src") ?? "";
    expect(src).toMatch(/^blob:/);
    expect(createUrl).toHaveBeenCalledOnce();
    const blob = /** @type {Blob} */ (createUrl.mock.calls[0][0]);
    expect(blob.type).toBe("video/mp4");
    expect([...new Uint8Array(await blob.arrayBuffer())]).toEqual([1, 2, 3, 4, 5]);
    createUrl.mockRestore();
    expect(q(el, "a.seedance-download").getAttribute("href")).toBe(src);
    cleanup();
  });

  it("shows the kernel's refusal to send the video", async () => {
    const model = new MemoryModel(doneState());
    const { el, cleanup } = mount(model);
    const { id } = model.sent[0].content;
    model.emit("msg:custom", { kind: MSG_VIDEO_RESPONSE, id, error: "no video to send: no file at x.mp4" }, []);
    await flush();
    expect(q(el, ".seedance-video-note").textContent).toContain("no file at x.mp4");
    cleanup();
  });

  it("plays embedded bytes without asking the kernel", async () => {
    const bytes = new Uint8Array([9, 9, 9]);
    const model = new MemoryModel({ ...doneState(), embed: true, video_bytes: new DataView(bytes.buffer) });
    const { el, cleanup } = mount(model);
    await flush();
    expect(model.sent).toHaveLength(0);
    expect(q(el, "video.seedance-video").getAttribute("src")).toMatch(/^blob:/);
    cleanup();
  });

  it("shows callback errors from the kernel under the widget", () => {
    const model = new MemoryModel(runningState());
    const { el, cleanup } = mount(model);
    model.set("callback_error", "Error while handling 'cancel': RuntimeError: boom");
    const box = q(el, ".seedance-callback-error");
    expect(box.hidden).toBe(false);
    expect(box.textContent).toContain("RuntimeError: boom");
    cleanup();
  });

  it("cleanup while the video is arriving stops listening for it", () => {
    const model = new MemoryModel(doneState());
    const { cleanup } = mount(model);
    expect(model.listeners.get("msg:custom")?.size).toBe(1);
    cleanup();
    expect(model.listenerCount()).toBe(0);
  });

  it("cleanup removes every listener, timer and node", () => {
    vi.useFakeTimers();
    try {
      const model = new MemoryModel(runningState());
      const { el, cleanup } = mount(model);
      expect(model.listenerCount()).toBeGreaterThan(0);
      expect(vi.getTimerCount()).toBe(1);
      cleanup();
      expect(model.listenerCount()).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
      expect(el.children).toHaveLength(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
