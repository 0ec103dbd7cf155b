import { afterEach, describe, expect, it, vi } from "vitest";
import form, { parseSeed, ratioShape } from "../form.js";
import {
  MSG_ADD_IMAGE,
  MSG_ADD_IMAGE_RESPONSE,
  MSG_COMPARE,
  MSG_COMPARE_CLOSE,
  MSG_GENERATE,
  MSG_IMAGE_REQUEST,
  MSG_REMOVE_IMAGE,
  MSG_REUSE_SETTINGS,
  MSG_VIDEO_REQUEST,
  MSG_VIDEO_RESPONSE,
} from "../lib/messages.js";
import fixture from "./fixtures/model_limits.json";
import { MemoryModel, doneState, runningState } from "./memory_model.js";

/** The limits the kernel sends for a model (written from the catalogue: tests/magic/test_model_agreement.py). */
const LIMITS = /** @type {Record<string, { limits: Record<string, any> }>} */ (fixture.models);
const PRO_15 = "doubao-seedance-1-5-pro";

/** The form's traits as the kernel sends them for a fresh, valid form. */
function formState(overrides = {}) {
  return {
    model: PRO_15,
    model_choices: Object.entries(LIMITS).map(([id, m]) => ({ id, label: m.limits.label, family: m.limits.family, unconfirmed: false })),
    model_note: "",
    return_last_frame: false,
    web_search: false,
    prompt: "A paper boat drifting on a pond at dawn",
    duration: 5,
    aspect_ratio: "16:9",
    resolution: "720p",
    audio: false,
    camera_fixed: false,
    seed_mode: "random",
    seed: 0,
    images: [],
    limits: LIMITS[PRO_15].limits,
    invalid_reason: "",
    estimate_usd: 0.13,
    output_label: "1280×720 · 24 fps · 5 s",
    last_seed: null,
    error: "",
    backend: "an emulator at http://127.0.0.1:1: synthetic clips, nothing billed",
    session: "1 running · session ≈ $0.13 (estimate)",
    history: [],
    compare: [],
    ...overrides,
  };
}

/**
 * A history card as the kernel's CardBook makes it.
 * @param {string} id @param {Record<string, unknown>} base @param {Record<string, unknown>} [extra]
 */
function card(id, base, extra = {}) {
  return { ...base, id, seed_used: 1234, ...extra };
}

/** @type {(() => void)[]} */
let cleanups = [];
function mount(state = formState()) {
  const model = new MemoryModel(state);
  const host = document.createElement("div");
  document.body.appendChild(host);
  const cleanup = form.render({ model, el: host });
  cleanups.push(() => {
    cleanup();
    host.remove();
  });
  return { model, host, cleanup, $: (/** @type {string} */ s) => host.querySelector(s), $$: (/** @type {string} */ s) => /** @type {HTMLElement[]} */ ([...host.querySelectorAll(s)]) };
}

afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
  vi.restoreAllMocks();
});

describe("helpers", () => {
  it("draws ratio shapes of equal area, wide and tall", () => {
    const wide = ratioShape("16:9");
    const tall = ratioShape("9:16");
    const square = ratioShape("1:1");
    expect(wide.width).toBeGreaterThan(wide.height);
    expect(tall).toEqual({ width: wide.height, height: wide.width });
    expect(square.width).toBe(square.height);
    expect(Math.abs(wide.width * wide.height - square.width * square.height)).toBeLessThan(60);
  });
  it("parses seeds in range only", () => {
    expect(parseSeed(" 42 ", 100)).toBe(42);
    expect(parseSeed("101", 100)).toBeNull();
    expect(parseSeed("-1", 100)).toBeNull();
    expect(parseSeed("4.5", 100)).toBeNull();
    expect(parseSeed("", 100)).toBeNull();
  });
});

describe("SeedanceForm view", () => {
  it("renders every documented DOM hook", () => {
    const { $, $$ } = mount();
    expect($(".seedance-form")).not.toBeNull();
    expect($("textarea.seedance-prompt")).not.toBeNull();
    expect($(".seedance-charcount")?.textContent).toBe("39 / 2000");
    expect($("input.seedance-duration")).not.toBeNull();
    expect($$("button.seedance-ratio").map((b) => b.dataset.ratio)).toEqual(["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]);
    expect($$("button.seedance-resolution").map((b) => b.dataset.value)).toEqual(["480p", "720p"]);
    expect($("input.seedance-audio")).not.toBeNull();
    expect($("input.seedance-camera-fixed")).not.toBeNull();
    expect($$("button.seedance-seed-mode").map((b) => b.dataset.value)).toEqual(["random", "fixed"]);
    expect($("input.seedance-seed")).not.toBeNull();
    for (const role of ["first_frame", "last_frame", "reference_image"]) {
      expect($(`.seedance-slot[data-role=${role}] input[type=file]`)).not.toBeNull();
      expect($(`.seedance-slot[data-role=${role}] input.seedance-url`)).not.toBeNull();
    }
    expect($(".seedance-estimate")?.textContent).toContain("≈ $0.13 (estimate)");
    expect($(".seedance-backend")?.textContent).toBe("an emulator at http://127.0.0.1:1: synthetic clips, nothing billed");
    expect($(".seedance-running")?.textContent).toBe(" · 1 running · session ≈ $0.13 (estimate)");
    expect($(".seedance-invalid")).not.toBeNull();
    expect($("button.seedance-generate")).not.toBeNull();
    expect($(".seedance-history")).not.toBeNull();
    expect($(".seedance-compare")).not.toBeNull();
  });

  it("every control has an accessible name", () => {
    const { $$ } = mount();
    for (const input of $$("input, textarea")) {
      const labelled =
        input.getAttribute("aria-label") ||
        (input.id && document.querySelector(`label[for="${input.id}"]`)) ||
        input.closest("label");
      expect(labelled, input.className).toBeTruthy();
    }
  });

  it("typing sets the prompt trait, and the trait updates the page", () => {
    const { model, $ } = mount();
    const prompt = /** @type {HTMLTextAreaElement} */ ($("textarea.seedance-prompt"));
    prompt.value = "A fox in the snow";
    prompt.dispatchEvent(new Event("input"));
    expect(model.get("prompt")).toBe("A fox in the snow");
    expect($(".seedance-charcount")?.textContent).toBe("17 / 2000");

    model.set("prompt", "x".repeat(2001));
    expect(prompt.value.length).toBe(2001);
    expect($(".seedance-charcount")?.getAttribute("data-over")).toBe("true");
  });

  it("controls set their traits and follow trait changes", () => {
    const { model, $ } = mount();
    /** @type {HTMLButtonElement} */ ($('button.seedance-ratio[data-ratio="9:16"]')).click();
    expect(model.get("aspect_ratio")).toBe("9:16");
    expect($('button.seedance-ratio[data-ratio="9:16"]')?.getAttribute("aria-pressed")).toBe("true");
    expect($('button.seedance-ratio[data-ratio="16:9"]')?.getAttribute("aria-pressed")).toBe("false");

    /** @type {HTMLButtonElement} */ ($('button.seedance-resolution[data-value="480p"]')).click();
    expect(model.get("resolution")).toBe("480p");

    const duration = /** @type {HTMLInputElement} */ ($("input.seedance-duration"));
    duration.value = "9";
    duration.dispatchEvent(new Event("input"));
    expect(model.get("duration")).toBe(9);
    expect($(".seedance-duration-value")?.textContent).toBe("9 s");

    const audio = /** @type {HTMLInputElement} */ ($("input.seedance-audio"));
    audio.click();
    expect(model.get("audio")).toBe(true);
    model.set("camera_fixed", true);
    expect(/** @type {HTMLInputElement} */ ($("input.seedance-camera-fixed")).checked).toBe(true);
  });

  it("seed: random disables the field; fixed takes only valid integers", () => {
    const { model, $ } = mount();
    const seed = /** @type {HTMLInputElement} */ ($("input.seedance-seed"));
    expect(seed.disabled).toBe(true);
    /** @type {HTMLButtonElement} */ ($('button.seedance-seed-mode[data-value="fixed"]')).click();
    expect(model.get("seed_mode")).toBe("fixed");
    expect(seed.disabled).toBe(false);
    seed.value = "77";
    seed.dispatchEvent(new Event("input"));
    expect(model.get("seed")).toBe(77);
    seed.value = "not a seed";
    seed.dispatchEvent(new Event("input"));
    expect(model.get("seed")).toBe(77);
    expect(seed.getAttribute("aria-invalid")).toBe("true");
    expect($(".seedance-seed-problem")?.textContent).toContain("0 to 4294967295");
  });

  it("an invalid form disables Generate and shows the kernel's reason as text", () => {
    const { model, $, host } = mount();
    const generate = /** @type {HTMLButtonElement} */ ($("button.seedance-generate"));
    expect(generate.disabled).toBe(false);
    const reason = 'prompt=\'<img src=x onerror="alert(1)">\' is not allowed';
    model.set("invalid_reason", reason);
    expect(generate.disabled).toBe(true);
    expect($(".seedance-invalid")?.textContent).toBe(reason);
    expect(host.querySelector("img[src=x]")).toBeNull();
    expect($(".seedance-estimate")?.textContent).toBe("—");
    model.set("invalid_reason", "");
    expect(generate.disabled).toBe(false);
  });

  it("edits count up edit_seq; generate carries it with the values shown", () => {
    const { model, $ } = mount(formState({ edit_seq: 0 }));
    const prompt = /** @type {HTMLTextAreaElement} */ ($("textarea.seedance-prompt"));
    prompt.value = "a hare";
    prompt.dispatchEvent(new Event("input"));
    /** @type {HTMLButtonElement} */ ($('button.seedance-ratio[data-ratio="4:3"]')).click();
    expect(model.get("edit_seq")).toBe(2);
    /** @type {HTMLButtonElement} */ ($("button.seedance-generate")).click();
    const sent = model.sent.at(-1)?.content;
    expect(sent).toMatchObject({ kind: MSG_GENERATE, seq: 2 });
    expect(sent.params).toEqual({
      model: PRO_15,
      return_last_frame: false,
      web_search: false,
      prompt: "a hare",
      duration: 5,
      aspect_ratio: "4:3",
      resolution: "720p",
      audio: false,
      seed_mode: "random",
      seed: 0,
      camera_fixed: false,
    });
  });

  it("Generate and Ctrl/Cmd+Enter send one generate message each", () => {
    const { model, $ } = mount();
    /** @type {HTMLButtonElement} */ ($("button.seedance-generate")).click();
    const prompt = /** @type {HTMLTextAreaElement} */ ($("textarea.seedance-prompt"));
    const event = new KeyboardEvent("keydown", { key: "Enter", ctrlKey: true, bubbles: true, cancelable: true });
    prompt.dispatchEvent(event);
    expect(event.defaultPrevented).toBe(true);
    prompt.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", metaKey: true, bubbles: true }));
    expect(model.sent.map((m) => m.content.kind)).toEqual([MSG_GENERATE, MSG_GENERATE, MSG_GENERATE]);
    expect(model.sent[0].content.params.prompt).toBe("A paper boat drifting on a pond at dawn");
    // While invalid the button does nothing; the shortcut still asks, with the values shown, since
    // the kernel's verdict may predate the last keystrokes (the kernel answers with the reason).
    model.set("invalid_reason", "prompt='' is not allowed");
    /** @type {HTMLButtonElement} */ ($("button.seedance-generate")).click();
    expect(model.sent).toHaveLength(3);
    prompt.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", ctrlKey: true, bubbles: true }));
    expect(model.sent).toHaveLength(4);
    expect(model.sent[3].content.params.prompt).toBe(prompt.value);
  });

  it("a chosen file travels to the kernel as a buffer; an oversized one as its size only", async () => {
    const { model, $ } = mount();
    const input = /** @type {HTMLInputElement} */ ($(".seedance-slot[data-role=first_frame] input[type=file]"));
    const png = new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])], "boat.png", { type: "image/png" });
    Object.defineProperty(input, "files", { value: [png], configurable: true });
    input.dispatchEvent(new Event("change"));
    await vi.waitFor(() => expect(model.sent).toHaveLength(1));
    const { content, buffers } = model.sent[0];
    expect(content).toMatchObject({ kind: MSG_ADD_IMAGE, role: "first_frame", name: "boat.png", size: 7 });
    expect(new Uint8Array(/** @type {ArrayBuffer[]} */ (buffers)[0])).toEqual(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    // Until the kernel lists the image, Generate waits.
    expect(/** @type {HTMLButtonElement} */ ($("button.seedance-generate")).disabled).toBe(true);
    model.set("images", [{ id: content.id, role: "first_frame", kind: "file", url: null, name: "boat.png", size: 7, mime: "image/png" }]);
    model.emit("msg:custom", { kind: MSG_ADD_IMAGE_RESPONSE, id: content.id, ok: true });
    expect(/** @type {HTMLButtonElement} */ ($("button.seedance-generate")).disabled).toBe(false);
    expect($(".seedance-slot[data-role=first_frame] .seedance-thumb-caption")?.textContent).toBe("boat.png · 7 B");

    const big = new File([new Uint8Array(8)], "huge.png", { type: "image/png" });
    Object.defineProperty(big, "size", { value: 11 * 1024 * 1024 });
    Object.defineProperty(input, "files", { value: [big], configurable: true });
    input.dispatchEvent(new Event("change"));
    await vi.waitFor(() => expect(model.sent).toHaveLength(2));
    expect(model.sent[1].content).toMatchObject({ kind: MSG_ADD_IMAGE, name: "huge.png", size: 11 * 1024 * 1024 });
    expect(model.sent[1].buffers).toBeUndefined();
  });

  it("a URL is added with Enter; a kernel-side image's thumbnail is fetched once; remove sends its id", () => {
    const { model, $ } = mount();
    const url = /** @type {HTMLInputElement} */ ($(".seedance-slot[data-role=reference_image] input.seedance-url"));
    url.value = "https://example.com/ref.png ";
    url.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.sent[0].content).toMatchObject({ kind: MSG_ADD_IMAGE, role: "reference_image", url: "https://example.com/ref.png" });
    // Until the kernel answers, Generate waits; a refusal frees it again.
    const generate = /** @type {HTMLButtonElement} */ ($("button.seedance-generate"));
    expect(generate.disabled).toBe(true);
    model.emit("msg:custom", { kind: MSG_ADD_IMAGE_RESPONSE, id: model.sent[0].content.id, ok: false, error: "no" });
    expect(generate.disabled).toBe(false);
    expect(model.sent.filter((m) => m.content.kind === MSG_GENERATE)).toHaveLength(0);

    model.set("images", [
      { id: "a1", role: "reference_image", kind: "url", url: "https://example.com/ref.png", name: "ref.png", size: null, mime: null },
      { id: "b2", role: "last_frame", kind: "file", url: null, name: "end.png", size: 2048, mime: "image/png" },
    ]);
    model.set("images", [.../** @type {unknown[]} */ (model.get("images"))]);
    expect(model.listenerCount()).toBeGreaterThan(0);
    const asked = model.sent.filter((m) => m.content.kind === MSG_IMAGE_REQUEST);
    expect(asked.map((m) => m.content.id)).toEqual(["b2"]);
    expect($(".seedance-slot[data-role=reference_image] .seedance-slot-title")?.textContent).toBe("Reference images 1 / 4");
    expect(/** @type {HTMLImageElement} */ ($(".seedance-slot[data-role=reference_image] img")).src).toBe("https://example.com/ref.png");
    /** @type {HTMLButtonElement} */ ($('.seedance-thumb[data-id="b2"] .seedance-remove-image')).click();
    expect(model.sent.at(-1)?.content).toEqual({ kind: MSG_REMOVE_IMAGE, id: "b2" });
  });

  it("an image pasted into a slot is sent like a chosen file", async () => {
    const { model, $ } = mount();
    const url = /** @type {HTMLInputElement} */ ($(".seedance-slot[data-role=last_frame] input.seedance-url"));
    const png = new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], "image.png", { type: "image/png" });
    const event = new Event("paste", { bubbles: true, cancelable: true });
    Object.defineProperty(event, "clipboardData", { value: { files: [png] } });
    url.dispatchEvent(event);
    expect(event.defaultPrevented).toBe(true);
    await vi.waitFor(() => expect(model.sent).toHaveLength(1));
    expect(model.sent[0].content).toMatchObject({ kind: MSG_ADD_IMAGE, role: "last_frame", name: "image.png" });
    const text = new Event("paste", { bubbles: true, cancelable: true });
    Object.defineProperty(text, "clipboardData", { value: { files: [] } });
    url.dispatchEvent(text);
    expect(text.defaultPrevented).toBe(false); // plain text pastes into the field as usual
  });

  it("hides the reference inputs once four are present", () => {
    const refs = [1, 2, 3, 4].map((n) => ({ id: `r${n}`, role: "reference_image", kind: "url", url: `https://e.com/${n}.png`, name: `${n}.png` }));
    const { $ } = mount(formState({ images: refs }));
    expect(/** @type {HTMLElement} */ ($(".seedance-slot[data-role=reference_image] .seedance-slot-controls")).hidden).toBe(true);
    expect(/** @type {HTMLElement} */ ($(".seedance-slot[data-role=first_frame] .seedance-slot-controls")).hidden).toBe(false);
  });

  it("shows errors under the form as text", () => {
    const { model, $ } = mount();
    model.set("error", "<b>image_with_roles has 5 reference images; at most 4 are allowed</b>");
    const box = /** @type {HTMLElement} */ ($(".seedance-form-error"));
    expect(box.hidden).toBe(false);
    expect(box.textContent).toContain("<b>");
    expect(box.querySelector("b")).toBeNull();
    model.set("error", "");
    expect(box.hidden).toBe(true);
  });

  it("history: newest first, reuse, seed, compare two with synchronised playback", async () => {
    const createUrl = vi.spyOn(URL, "createObjectURL").mockImplementation(() => `blob:test-${Math.random()}`);
    vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => {});
    const running = card("j3", runningState(), { seed_used: null });
    const history = [running, card("j2", doneState(), { seed_used: 88 }), card("j1", doneState(), { seed_used: 412 })];
    const { model, $, $$ } = mount(formState({ history, last_seed: null }));
    const cards = $$(".seedance-card");
    expect(cards.map((c) => c.dataset.id)).toEqual(["j3", "j2", "j1"]);
    expect(cards[0].querySelector(".seedance-job")?.getAttribute("data-state")).toBe("running");
    // The seed chip shows the seed used (CardBook puts it in params.seed).
    expect([...cards[1].querySelectorAll(".seedance-chip")].map((c) => c.textContent)).toContain("seed 1234");
    expect(/** @type {HTMLInputElement} */ (cards[0].querySelector("input.seedance-compare-pick")).disabled).toBe(true);

    // Done cards asked the kernel for their videos, naming the job.
    const videoAsks = model.sent.filter((m) => m.content.kind === MSG_VIDEO_REQUEST);
    expect(videoAsks.map((m) => m.content.job).sort()).toEqual(["j1", "j2"]);
    for (const ask of videoAsks) {
      model.emit("msg:custom", { kind: MSG_VIDEO_RESPONSE, id: ask.content.id, chunk: 0, chunks: 1, size: 4, mime: "video/mp4" }, [
        new DataView(new Uint8Array([0, 0, 0, 8]).buffer),
      ]);
    }
    await vi.waitFor(() => expect(/** @type {HTMLVideoElement} */ (cards[1].querySelector("video.seedance-video")).src).toMatch(/^blob:/));

    /** @type {HTMLButtonElement} */ (cards[1].querySelector("button.seedance-reuse")).click();
    expect(model.sent.at(-1)?.content).toEqual({ kind: MSG_REUSE_SETTINGS, id: "j2", seq: 0 });

    const pick = (/** @type {number} */ i) => /** @type {HTMLInputElement} */ (cards[i].querySelector("input.seedance-compare-pick"));
    pick(1).click();
    expect(model.sent.filter((m) => m.content.kind === MSG_COMPARE)).toHaveLength(0);
    pick(2).click();
    expect(model.sent.at(-1)?.content).toEqual({ kind: MSG_COMPARE, ids: ["j2", "j1"] });

    model.set("compare", ["j2", "j1"]);
    const compare = /** @type {HTMLElement} */ ($(".seedance-compare"));
    expect(compare.hidden).toBe(false);
    const videos = /** @type {HTMLVideoElement[]} */ ([...compare.querySelectorAll("video")]);
    expect(videos).toHaveLength(2);
    // The videos reuse the bytes the cards fetched: no new request.
    expect(model.sent.filter((m) => m.content.kind === MSG_VIDEO_REQUEST)).toHaveLength(2);
    await vi.waitFor(() => expect(videos.every((v) => v.src.startsWith("blob:"))).toBe(true));
    expect(createUrl).toHaveBeenCalled();

    const play = vi.spyOn(HTMLMediaElement.prototype, "play").mockImplementation(() => Promise.resolve());
    const pause = vi.spyOn(HTMLMediaElement.prototype, "pause").mockImplementation(() => {});
    videos[0].dispatchEvent(new Event("play"));
    expect(play).toHaveBeenCalledTimes(1);
    expect(play.mock.contexts[0]).toBe(videos[1]);
    videos[1].dispatchEvent(new Event("pause"));
    expect(pause.mock.contexts[0]).toBe(videos[0]);
    // A user's seek on one is mirrored on the other; the seek we make is not mirrored back.
    videos[0].currentTime = 2.5;
    videos[0].dispatchEvent(new Event("seeked"));
    expect(videos[1].currentTime).toBe(2.5);
    videos[0].currentTime = 2.6;
    videos[1].dispatchEvent(new Event("seeked"));
    expect(videos[0].currentTime).toBe(2.6);
    videos[1].currentTime = 1;
    videos[1].dispatchEvent(new Event("seeked"));
    expect(videos[0].currentTime).toBe(1);

    /** @type {HTMLButtonElement} */ (compare.querySelector(".seedance-compare-close")).click();
    expect(model.sent.at(-1)?.content).toEqual({ kind: MSG_COMPARE_CLOSE });
    model.set("compare", []);
    expect(compare.hidden).toBe(true);
    expect(pick(1).checked).toBe(false);
  });

  it("a progress update keeps the same card element (a playing video is not rebuilt)", () => {
    const { model, $ } = mount(formState({ history: [card("j1", runningState())] }));
    const before = $(".seedance-card");
    model.set("history", [card("j1", runningState(), { progress: 80 })]);
    expect($(".seedance-card")).toBe(before);
    expect($(".seedance-progress")?.getAttribute("aria-valuenow")).toBe("80");
  });

  it("cleanup removes every model listener (pending video requests too) and the DOM", () => {
    const { model, host, cleanup } = mount(formState({ history: [card("j1", runningState()), card("j0", doneState())] }));
    expect(model.sent.filter((m) => m.content.kind === MSG_VIDEO_REQUEST)).toHaveLength(1);
    expect(model.listenerCount()).toBeGreaterThan(0);
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(host.querySelector(".seedance-form")).toBeNull();
    cleanups = [];
  });
});
