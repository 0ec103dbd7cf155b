import { afterEach, describe, expect, it, vi } from "vitest";
import { MSG_VIDEO_REQUEST, MSG_VIDEO_RESPONSE } from "../lib/messages.js";
import { requestVideo } from "../lib/video_channel.js";
import { MemoryModel } from "./memory_model.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("requestVideo", () => {
  it("gives up when the kernel stays silent, and stops listening", async () => {
    vi.useFakeTimers();
    const model = new MemoryModel({});
    const pending = requestVideo(/** @type {any} */ (model), { timeoutMs: 5000 });
    expect(model.sent[0].content.kind).toBe(MSG_VIDEO_REQUEST);
    const settled = expect(pending).rejects.toThrow("no answer from the kernel for 5 s");
    vi.advanceTimersByTime(5001);
    await settled;
    expect(model.listenerCount()).toBe(0);
  });

  it("keeps waiting while chunks arrive and resolves with them in order", async () => {
    vi.useFakeTimers();
    const model = new MemoryModel({});
    const pending = requestVideo(/** @type {any} */ (model), { timeoutMs: 5000 });
    const { id } = model.sent[0].content;
    const reply = { kind: MSG_VIDEO_RESPONSE, id, chunks: 3, mime: "video/mp4" };
    for (const chunk of [2, 0, 1]) {
      vi.advanceTimersByTime(4000); // each chunk re-arms the timer
      model.emit("msg:custom", { ...reply, chunk }, [new DataView(new Uint8Array([chunk]).buffer)]);
    }
    const blob = await pending;
    expect([...new Uint8Array(await blob.arrayBuffer())]).toEqual([0, 1, 2]);
    expect(model.listenerCount()).toBe(0);
  });

  it("can be aborted", async () => {
    const model = new MemoryModel({});
    const controller = new AbortController();
    const pending = requestVideo(/** @type {any} */ (model), { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toThrow("aborted");
    expect(model.listenerCount()).toBe(0);
  });
});
