// The form's parameter controls: prompt, duration, resolution, seed, audio / camera switches and
// aspect-ratio shapes. Each control draws from its trait and sets it back (ctx.setTrait).
import { el, setText } from "../lib/dom.js";

/** @typedef {import("./context.js").FormContext} FormContext */

const DEFAULT_RATIOS = ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"];
const DEFAULT_MAX_SEED = 4294967295;

/**
 * Width and height (px) of the little shape drawn for an aspect ratio: equal areas, so the
 * shapes compare as frames do.
 * @param {string} ratio "16:9"
 * @returns {{ width: number, height: number }}
 */
export function ratioShape(ratio) {
  const [a, b] = ratio.split(":").map(Number);
  if (!a || !b) return { width: 30, height: 30 };
  const scale = Math.sqrt(900 / (a * b));
  return { width: Math.round(a * scale), height: Math.round(b * scale) };
}

/**
 * Parse the fixed-seed field: an integer from 0 to max, else null.
 * @param {string} text
 * @param {number} max
 * @returns {number | null}
 */
export function parseSeed(text, max) {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return null;
  const value = Number(trimmed);
  return Number.isSafeInteger(value) && value <= max ? value : null;
}

/**
 * A segmented control: one button per value, aria-pressed on the chosen one.
 * @param {string} className class of each button (a DOM hook)
 * @param {string[]} values
 * @param {string} label accessible name of the group
 * @param {(value: string) => void} onPick
 */
function segmented(className, values, label, onPick) {
  const buttons = values.map((value) =>
    el("button", { className: `${className} seedance-seg-button`, text: value, attrs: { type: "button", "data-value": value } }),
  );
  for (const button of buttons) button.addEventListener("click", () => onPick(button.dataset.value ?? ""));
  const group = el("div", { className: "seedance-seg", attrs: { role: "group", "aria-label": label } }, buttons);
  /** @param {string} current */
  function draw(current) {
    for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.value === current));
  }
  return { group, buttons, draw };
}

/**
 * The prompt textarea and its character count.
 * @param {FormContext} ctx
 */
function promptPart(ctx) {
  const { uid, model } = ctx;
  const prompt = el("textarea", {
    className: "seedance-prompt",
    attrs: { id: `${uid}-prompt`, rows: "3", placeholder: "Scene, action, style and camera…", "aria-describedby": `${uid}-count` },
  });
  const charcount = el("span", { className: "seedance-charcount", attrs: { id: `${uid}-count`, "aria-live": "polite" } });
  const label = el("div", { className: "seedance-label-row" }, [
    el("label", { className: "seedance-label", text: "Prompt", attrs: { for: `${uid}-prompt` } }),
    charcount,
  ]);
  ctx.listen(prompt, "input", () => ctx.setTrait("prompt", prompt.value));
  function draw() {
    const value = model.get("prompt") ?? "";
    if (prompt.value !== value) prompt.value = value;
    const max = ctx.limits().max_prompt_chars ?? 2000;
    setText(charcount, `${value.length} / ${max}`);
    charcount.dataset.over = String(value.length > max);
  }
  return { label, prompt, draw };
}

/**
 * The duration slider.
 * @param {FormContext} ctx
 */
function durationPart(ctx) {
  const { uid, model } = ctx;
  const duration = el("input", { className: "seedance-duration", attrs: { type: "range", id: `${uid}-duration`, step: "1" } });
  const value = el("output", { className: "seedance-duration-value", attrs: { for: `${uid}-duration` } });
  ctx.listen(duration, "input", () => ctx.setTrait("duration", Number(duration.value)));
  const field = el("div", { className: "seedance-field" }, [
    el("label", { className: "seedance-label", text: "Duration", attrs: { for: `${uid}-duration` } }),
    el("div", { className: "seedance-inline" }, [duration, value]),
  ]);
  function draw() {
    const limits = ctx.limits();
    duration.min = String(limits.min_duration ?? 4);
    duration.max = String(limits.max_duration ?? 12);
    duration.value = String(model.get("duration"));
    setText(value, `${model.get("duration")} s`);
  }
  return { field, draw };
}

/**
 * Seed mode (random | fixed) and the fixed seed, checked as it is typed.
 * @param {FormContext} ctx
 */
function seedPart(ctx) {
  const { model } = ctx;
  const seed = el("input", {
    className: "seedance-seed",
    attrs: { type: "text", inputmode: "numeric", "aria-label": "Fixed seed", size: "10", autocomplete: "off" },
  });
  const mode = segmented("seedance-seed-mode", ["random", "fixed"], "Seed", (v) => {
    ctx.setTrait("seed_mode", v);
    if (v === "fixed") seed.focus();
  });
  const problem = el("span", { className: "seedance-seed-problem", attrs: { role: "status" } });
  ctx.listen(seed, "input", () => {
    const max = ctx.limits().max_seed ?? DEFAULT_MAX_SEED;
    const value = parseSeed(seed.value, max);
    seed.setAttribute("aria-invalid", String(value === null));
    setText(problem, value === null ? `seed must be an integer from 0 to ${max}` : "");
    if (value !== null) ctx.setTrait("seed", value);
  });
  const field = el("div", { className: "seedance-field" }, [
    el("span", { className: "seedance-label", text: "Seed" }),
    el("div", { className: "seedance-inline" }, [mode.group, seed]),
    problem,
  ]);
  function draw() {
    const current = model.get("seed_mode");
    mode.draw(current);
    seed.disabled = current !== "fixed";
    const seedValue = String(model.get("seed") ?? 0);
    if (document.activeElement !== seed && seed.value !== seedValue) seed.value = seedValue;
    if (parseSeed(seed.value, ctx.limits().max_seed ?? DEFAULT_MAX_SEED) === Number(seedValue)) {
      seed.removeAttribute("aria-invalid");
      setText(problem, "");
    }
  }
  return { field, draw };
}

/**
 * The audio and camera-fixed switches.
 * @param {FormContext} ctx
 */
function switchesPart(ctx) {
  const { uid, model } = ctx;
  const audio = el("input", { className: "seedance-audio", attrs: { type: "checkbox", id: `${uid}-audio` } });
  const camera = el("input", { className: "seedance-camera-fixed", attrs: { type: "checkbox", id: `${uid}-camera` } });
  ctx.listen(audio, "change", () => ctx.setTrait("audio", audio.checked));
  ctx.listen(camera, "change", () => ctx.setTrait("camera_fixed", camera.checked));
  const field = el("div", { className: "seedance-field seedance-switches" }, [
    el("label", { className: "seedance-check", attrs: { for: `${uid}-audio` } }, [audio, el("span", { text: "audio" })]),
    el("label", { className: "seedance-check", attrs: { for: `${uid}-camera` } }, [camera, el("span", { text: "camera fixed" })]),
  ]);
  function draw() {
    audio.checked = Boolean(model.get("audio"));
    camera.checked = Boolean(model.get("camera_fixed"));
  }
  return { field, draw };
}

/**
 * One button per aspect ratio, each showing the frame's shape.
 * @param {FormContext} ctx
 */
function ratioPart(ctx) {
  const { uid, model } = ctx;
  const buttons = (ctx.limits().aspect_ratios ?? DEFAULT_RATIOS).map((ratio) => {
    const { width, height } = ratioShape(ratio);
    const shape = el("span", { className: "seedance-ratio-shape", attrs: { "aria-hidden": "true" } });
    shape.style.width = `${width}px`;
    shape.style.height = `${height}px`;
    const button = el("button", { className: "seedance-ratio", attrs: { type: "button", "data-ratio": ratio } }, [
      shape,
      el("span", { className: "seedance-ratio-text", text: ratio }),
    ]);
    ctx.listen(button, "click", () => ctx.setTrait("aspect_ratio", ratio));
    return button;
  });
  const field = el("div", { className: "seedance-field" }, [
    el("span", { className: "seedance-label", text: "Aspect ratio", attrs: { id: `${uid}-ratio` } }),
    el("div", { className: "seedance-ratios", attrs: { role: "group", "aria-labelledby": `${uid}-ratio` } }, buttons),
  ]);
  function draw() {
    const ratio = model.get("aspect_ratio");
    for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.ratio === ratio));
  }
  return { field, draw };
}

/**
 * Every parameter control. `drawPrompt` and `drawParams` redraw them from the traits.
 * @param {FormContext} ctx
 */
export function createParameters(ctx) {
  const prompt = promptPart(ctx);
  const duration = durationPart(ctx);
  const resolution = segmented("seedance-resolution", ["480p", "720p"], "Resolution", (v) => ctx.setTrait("resolution", v));
  const resolutionField = el("div", { className: "seedance-field" }, [
    el("span", { className: "seedance-label", text: "Resolution" }),
    resolution.group,
  ]);
  const seed = seedPart(ctx);
  const switches = switchesPart(ctx);
  const ratio = ratioPart(ctx);
  return {
    promptLabel: prompt.label,
    prompt: prompt.prompt,
    row: el("div", { className: "seedance-row" }, [duration.field, resolutionField, seed.field, switches.field]),
    ratioField: ratio.field,
    drawPrompt: prompt.draw,
    drawParams() {
      duration.draw();
      resolution.draw(ctx.model.get("resolution"));
      ratio.draw();
      switches.draw();
      seed.draw();
    },
  };
}
