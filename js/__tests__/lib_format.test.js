import { describe, expect, it } from "vitest";
import { formatBytes, formatClock, formatCost, paramChips, shortenPrompt, videoChips } from "../lib/format.js";
import { isFinal, stateTone } from "../lib/job_state.js";

describe("format", () => {
  it("formats clocks", () => {
    expect(formatClock(0)).toBe("0:00");
    expect(formatClock(70)).toBe("1:10");
    expect(formatClock(3725)).toBe("1:02:05");
    expect(formatClock(-3)).toBe("0:00");
    expect(formatClock(null)).toBe("");
    expect(formatClock(Number.NaN)).toBe("");
  });

  it("formats sizes and costs", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(412 * 1024)).toBe("412 KB");
    expect(formatBytes(3.1 * 1024 * 1024)).toBe("3.1 MB");
    expect(formatCost(0.26)).toBe("≈ $0.26 (estimate)");
    expect(formatCost(null)).toBe("");
  });

  it("shortens prompts to one line", () => {
    expect(shortenPrompt("  a\n b  ")).toBe("a b");
    const long = "x".repeat(200);
    const short = shortenPrompt(long, 20);
    expect(short).toHaveLength(20);
    expect(short.endsWith("…")).toBe(true);
  });

  it("makes parameter and video chips", () => {
    expect(
      paramChips({ resolution: "720p", aspect_ratio: "16:9", duration: 5, audio: true, seed: 1234 }),
    ).toEqual(["720p", "16:9", "5 s", "audio", "seed 1234"]);
    expect(paramChips({ duration: 4, seed: -1, camera_fixed: true })).toEqual(["4 s", "camera fixed", "seed random"]);
    expect(videoChips({ width: 1280, height: 720, fps: 24, duration: 5, size: 2048 })).toEqual([
      "1280×720",
      "24 fps",
      "5.0 s",
      "2.0 KB",
    ]);
    expect(videoChips(null)).toEqual([]);
  });

  it("groups states", () => {
    expect(isFinal("done")).toBe(true);
    expect(isFinal("running")).toBe(false);
    expect(stateTone("failed")).toBe("error");
    expect(stateTone("may_exist")).toBe("warn");
    expect(stateTone("queued")).toBe("active");
  });
});
