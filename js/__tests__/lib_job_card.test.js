import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createJobCard } from "../lib/job_card.js";
import { doneState, runningState } from "./memory_model.js";

/** @param {HTMLElement} root @param {string} selector */
function q(root, selector) {
  const node = root.querySelector(selector);
  if (!node) throw new Error(`missing ${selector}`);
  return /** @type {HTMLElement} */ (node);
}

describe("job card", () => {
  /** @type {number} */
  let clock;
  beforeEach(() => {
    vi.useFakeTimers();
    clock = 5_000_000;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("shows a running job: status, bar, chips, cost, task id, cancel", () => {
    const onCancel = vi.fn();
    const card = createJobCard({ onCancel, now: () => clock });
    card.update(runningState());
    const root = card.el;
    expect(root.classList.contains("seedance-job")).toBe(true);
    expect(root.dataset.state).toBe("running");
    expect(q(root, ".seedance-status").textContent).toBe("Generating · 42%");
    expect(q(root, ".seedance-prompt-text").textContent).toContain("Sunset at the beach");
    const bar = q(root, ".seedance-progress");
    expect(bar.getAttribute("role")).toBe("progressbar");
    expect(bar.getAttribute("aria-valuenow")).toBe("42");
    expect(q(root, ".seedance-progress-fill").style.width).toBe("42%");
    const chips = [...root.querySelectorAll(".seedance-chips .seedance-chip")].map((c) => c.textContent);
    expect(chips).toEqual(["720p", "16:9", "5 s", "audio", "seed 1234"]);
    expect(q(root, ".seedance-cost").textContent).toBe("≈ $0.26 (estimate)");
    expect(q(root, ".seedance-task-id").textContent).toBe("task_vid_xyz");
    expect(q(root, ".seedance-eta").textContent).toBe("ETA ≈ 1:10");
    expect(q(root, ".seedance-elapsed").textContent).toBe("elapsed 0:51");
    expect(q(root, ".seedance-video").hidden).toBe(true);
    const cancel = /** @type {HTMLButtonElement} */ (q(root, "button.seedance-cancel"));
    expect(cancel.hidden).toBe(false);
    cancel.click();
    expect(onCancel).toHaveBeenCalledOnce();
    expect(cancel.disabled).toBe(true);
    card.destroy();
  });

  it("ticks elapsed and ETA locally, with no new data", () => {
    const card = createJobCard({ now: () => clock });
    card.update(runningState());
    clock += 10_000;
    vi.advanceTimersByTime(1000);
    expect(q(card.el, ".seedance-elapsed").textContent).toBe("elapsed 1:01");
    expect(q(card.el, ".seedance-eta").textContent).toBe("ETA ≈ 1:00");
    clock += 120_000;
    vi.advanceTimersByTime(1000);
    expect(q(card.el, ".seedance-eta").textContent).toBe("finishing…");
    card.destroy();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stops ticking and hides cancel once final", () => {
    const card = createJobCard({ now: () => clock, loadVideo: () => new Promise(() => {}) });
    card.update(runningState());
    expect(vi.getTimerCount()).toBe(1);
    card.update(doneState());
    expect(vi.getTimerCount()).toBe(0);
    expect(q(card.el, "button.seedance-cancel").hidden).toBe(true);
    card.destroy();
  });

  it("shows a done job: video, facts, download link, details", async () => {
    const blob = new Blob([new Uint8Array([0, 0, 0, 24])], { type: "video/mp4" });
    const loadVideo = vi.fn(() => Promise.resolve(blob));
    const card = createJobCard({ now: () => clock, loadVideo });
    card.update(doneState());
    card.update(doneState()); // same video: fetched once
    await vi.waitFor(() => expect(q(card.el, "a.seedance-download").getAttribute("href")).toMatch(/^blob:/));
    expect(loadVideo).toHaveBeenCalledOnce();
    const root = card.el;
    expect(root.dataset.tone).toBe("ok");
    const video = /** @type {HTMLVideoElement} */ (q(root, "video.seedance-video"));
    expect(video.hidden).toBe(false);
    expect(video.hasAttribute("controls")).toBe(true);
    expect(video.getAttribute("src")).toMatch(/^blob:/);
    expect(q(root, "a.seedance-download").getAttribute("download")).toBe("ab12-sunset.mp4");
    const facts = [...root.querySelectorAll(".seedance-video-facts .seedance-chip")].map((c) => c.textContent);
    expect(facts).toEqual(["1280×720", "24 fps", "5.0 s", "4 B"]);
    expect(q(root, ".seedance-progress").hidden).toBe(true);
    const details = q(root, ".seedance-details");
    expect(details.hidden).toBe(false);
    expect(details.textContent).toContain("task_vid_xyz");
    expect(details.textContent).toContain("ab12");
    expect(details.textContent).toContain("doubao-seedance-1-5-pro");
    card.destroy();
  });

  it("shows the gateway's words on failure, in red, with the bar frozen", () => {
    const card = createJobCard({ now: () => clock });
    card.update({
      ...runningState(),
      state: "failed",
      status_text: "Refused",
      error: "Generation failed: <b>Content</b> violates the content policy",
      error_code: "content_policy_violation",
      finished_at: 1060,
    });
    const root = card.el;
    expect(root.dataset.tone).toBe("error");
    const error = q(root, ".seedance-error");
    expect(error.hidden).toBe(false);
    expect(error.textContent).toBe("Generation failed: <b>Content</b> violates the content policy");
    expect(error.querySelector("b")).toBeNull(); // text, never markup
    expect(q(root, ".seedance-progress").hidden).toBe(false);
    expect(q(root, ".seedance-video").hidden).toBe(true);
    card.destroy();
  });

  it("reports a failed video load under the card and retries on the next update", async () => {
    const loadVideo = vi.fn(() => Promise.reject(new Error("no file at x.mp4")));
    const card = createJobCard({ now: () => clock, loadVideo });
    card.update(doneState());
    await vi.waitFor(() => expect(q(card.el, ".seedance-video-note").textContent).toContain("no file at x.mp4"));
    card.update(doneState());
    expect(loadVideo).toHaveBeenCalledTimes(2);
    card.destroy();
  });

  it("stays compact while running: no actions, no details", () => {
    const card = createJobCard({ now: () => clock });
    card.update(runningState());
    expect(q(card.el, ".seedance-actions").hidden).toBe(true);
    expect(q(card.el, ".seedance-details").hidden).toBe(true);
    card.update({ ...runningState(), state: "cancelled", progress: 0, error: "cancelled: no longer watched" });
    expect(q(card.el, ".seedance-progress").hidden).toBe(true); // ended before any progress
    expect(q(card.el, ".seedance-error").hidden).toBe(false); // but the reason stays visible
    expect(q(card.el, "button.seedance-copy-id").hidden).toBe(false);
    expect(card.el.dataset.tone).toBe("idle");
    card.destroy();
  });

  it("revokes its blob URL when destroyed", async () => {
    const revoke = vi.spyOn(URL, "revokeObjectURL");
    const card = createJobCard({ now: () => clock, loadVideo: () => Promise.resolve(new Blob([new Uint8Array(4)])) });
    card.update(doneState());
    await vi.waitFor(() => expect(q(card.el, "video.seedance-video").getAttribute("src")).toMatch(/^blob:/));
    const url = q(card.el, "video.seedance-video").getAttribute("src");
    card.destroy();
    expect(revoke).toHaveBeenCalledWith(url);
    revoke.mockRestore();
  });

  it("shows callback errors and flags", () => {
    const card = createJobCard({ now: () => clock });
    card.update({ ...runningState(), reconnecting: true, from_cache: true });
    expect(q(card.el, ".seedance-reconnecting").textContent).toBe("reconnecting…");
    expect(q(card.el, ".seedance-from-cache").textContent).toBe("from cache");
    expect(q(card.el, ".seedance-callback-error").hidden).toBe(true);
    card.showCallbackError("Error while handling 'cancel': boom");
    expect(q(card.el, ".seedance-callback-error").textContent).toContain("boom");
    card.destroy();
  });
});
