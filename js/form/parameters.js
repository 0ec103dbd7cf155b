// The form's parameter controls: model picker, prompt, duration (and auto), resolution, seed, the
// switches (audio, camera fixed, last frame, web search) and aspect-ratio shapes. Every control is
// built from the `limits` trait the kernel sends (the model's spec): no limit is written here, and a
// new model's limits rebuild the controls. Each control draws from its trait and sets it back.
import { el, replaceChildren, setText, show } from "../lib/dom.js";

/**
 * @typedef {import("./context.js").FormContext} FormContext
 * @typedef {import("./context.js").Limits} Limits
 */

/**
 * Width and height (px) of the little shape drawn for an aspect ratio: equal areas, so the
 * shapes compare as frames do. A ratio that is not "W:H" (adaptive) gets a square.
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
 * The values a model offers for each control, read from its limits only (what the JS offers is
 * what the kernel accepts: a test compares both for every model of the catalogue).
 * @param {Limits} limits
 */
export function offeredValues(limits) {
  const durations = limits.durations;
  /** @type {number[]} */
  const seconds = [];
  if (durations) for (let s = durations.min; s <= durations.max; s += 1) seconds.push(s);
  return {
    durations: seconds,
    auto: durations?.auto ?? null,
    resolutions: [...(limits.resolutions ?? [])],
    ratios: [...(limits.ratios ?? [])],
    audio: Boolean(limits.audio && limits.audio.mode !== "none"),
    cameraFixed: Boolean(limits.camera_fixed?.supported),
    lastFrame: Boolean(limits.last_frame),
    webSearch: Boolean(limits.web_search),
    seedMax: limits.seed ? limits.seed.max : null,
    slots: slotCounts(limits),
  };
}

/**
 * How many files each slot holds for a model (0: no slot).
 * @param {Limits} limits
 * @returns {Record<string, number>}
 */
export function slotCounts(limits) {
  return {
    first_frame: limits.images?.max_first ?? 0,
    last_frame: limits.images?.max_last ?? 0,
    reference_image: limits.images?.max_references ?? 0,
    reference_video: limits.video_refs?.max_count ?? 0,
    reference_audio: limits.audio_refs?.max_count ?? 0,
  };
}

/**
 * A segmented control: one button per value, aria-pressed on the chosen one; `rebuild` replaces
 * the buttons when the model (hence the values) changes.
 * @param {FormContext} ctx
 * @param {string} className class of each button (a DOM hook)
 * @param {string} label accessible name of the group
 * @param {(value: string) => void} onPick
 */
function segmented(ctx, className, label, onPick) {
  const group = el("div", { className: "seedance-seg", attrs: { role: "group", "aria-label": label } });
  ctx.listen(group, "click", (/** @type {MouseEvent} */ event) => {
    const button = /** @type {HTMLElement | null} */ (event.target instanceof Element ? event.target.closest(`.${className}`) : null);
    if (button?.dataset.value !== undefined) onPick(button.dataset.value);
  });
  let key = "";
  /** @param {string[]} values */
  function rebuild(values) {
    if (values.join("|") === key) return;
    key = values.join("|");
    replaceChildren(
      group,
      values.map((value) =>
        el("button", { className: `${className} seedance-seg-button`, text: value, attrs: { type: "button", "data-value": value } }),
      ),
    );
  }
  /** @param {string} current */
  function draw(current) {
    for (const button of /** @type {HTMLElement[]} */ ([...group.children])) {
      button.setAttribute("aria-pressed", String(button.dataset.value === current));
    }
  }
  return { group, rebuild, draw };
}

/**
 * The model picker and the note of what the last switch changed.
 * @param {FormContext} ctx
 */
function modelPart(ctx) {
  const { uid, model } = ctx;
  const select = el("select", { className: "seedance-model", attrs: { id: `${uid}-model` } });
  const note = el("div", { className: "seedance-model-note", attrs: { role: "status", "aria-live": "polite" } });
  const unconfirmed = el("div", { className: "seedance-model-unconfirmed" });
  ctx.listen(select, "change", () => ctx.setTrait("model", select.value));
  const field = el("div", { className: "seedance-field seedance-model-field" }, [
    el("label", { className: "seedance-label", text: "Model", attrs: { for: `${uid}-model` } }),
    select,
    note,
    unconfirmed,
  ]);
  let key = "";
  function draw() {
    /** @type {{ id: string, label: string }[]} */
    const choices = model.get("model_choices") ?? [];
    const nextKey = choices.map((c) => c.id).join("|");
    if (nextKey !== key) {
      key = nextKey;
      replaceChildren(
        select,
        choices.map((c) => el("option", { text: `${c.label} (${c.id})`, attrs: { value: c.id } })),
      );
    }
    const current = model.get("model") ?? "";
    if (select.value !== current) select.value = current;
    const text = model.get("model_note") ?? "";
    setText(note, text);
    show(note, Boolean(text));
    const open = ctx.limits().unconfirmed ?? [];
    setText(unconfirmed, open.length ? `Not confirmed by the gateway's pages: ${open.join(", ")}` : "");
    show(unconfirmed, open.length > 0);
  }
  return { field, draw };
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
    const max = ctx.limits().max_prompt_chars;
    setText(charcount, typeof max === "number" ? `${value.length} / ${max}` : String(value.length));
    charcount.dataset.over = String(typeof max === "number" && value.length > max);
  }
  return { label, prompt, draw };
}

/**
 * The duration slider, and "auto" where the model picks the length.
 * @param {FormContext} ctx
 */
function durationPart(ctx) {
  const { uid, model } = ctx;
  const duration = el("input", { className: "seedance-duration", attrs: { type: "range", id: `${uid}-duration`, step: "1" } });
  const value = el("output", { className: "seedance-duration-value", attrs: { for: `${uid}-duration` } });
  const auto = el("input", { className: "seedance-duration-auto", attrs: { type: "checkbox", id: `${uid}-duration-auto` } });
  const autoLabel = el("label", { className: "seedance-check", attrs: { for: `${uid}-duration-auto` } }, [auto, el("span", { text: "auto" })]);
  ctx.listen(duration, "input", () => ctx.setTrait("duration", Number(duration.value)));
  ctx.listen(auto, "change", () => {
    const limits = ctx.limits().durations;
    if (!limits) return;
    ctx.setTrait("duration", auto.checked && limits.auto !== null ? limits.auto : limits.default);
  });
  const field = el("div", { className: "seedance-field" }, [
    el("label", { className: "seedance-label", text: "Duration", attrs: { for: `${uid}-duration` } }),
    el("div", { className: "seedance-inline" }, [duration, value, autoLabel]),
  ]);
  function draw() {
    const limits = ctx.limits().durations;
    show(field, Boolean(limits));
    if (!limits) return;
    duration.min = String(limits.min);
    duration.max = String(limits.max);
    const current = Number(model.get("duration"));
    const isAuto = limits.auto_values.includes(current);
    show(autoLabel, limits.auto !== null);
    auto.checked = isAuto;
    duration.disabled = isAuto;
    if (!isAuto) duration.value = String(current);
    setText(value, isAuto ? "auto" : `${current} s`);
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
  const mode = segmented(ctx, "seedance-seed-mode", "Seed", (v) => {
    ctx.setTrait("seed_mode", v);
    if (v === "fixed") seed.focus();
  });
  mode.rebuild(["random", "fixed"]);
  const problem = el("span", { className: "seedance-seed-problem", attrs: { role: "status" } });
  const maxSeed = () => ctx.limits().seed?.max ?? 0;
  ctx.listen(seed, "input", () => {
    const value = parseSeed(seed.value, maxSeed());
    seed.setAttribute("aria-invalid", String(value === null));
    setText(problem, value === null ? `seed must be an integer from 0 to ${maxSeed()}` : "");
    if (value !== null) ctx.setTrait("seed", value);
  });
  const field = el("div", { className: "seedance-field" }, [
    el("span", { className: "seedance-label", text: "Seed" }),
    el("div", { className: "seedance-inline" }, [mode.group, seed]),
    problem,
  ]);
  function draw() {
    show(field, Boolean(ctx.limits().seed));
    const current = model.get("seed_mode");
    mode.draw(current);
    seed.disabled = current !== "fixed";
    const seedValue = String(model.get("seed") ?? 0);
    if (document.activeElement !== seed && seed.value !== seedValue) seed.value = seedValue;
    if (parseSeed(seed.value, maxSeed()) === Number(seedValue)) {
      seed.removeAttribute("aria-invalid");
      setText(problem, "");
    }
  }
  return { field, draw };
}

/**
 * The on/off switches, each shown only where the model offers it.
 * @param {FormContext} ctx
 */
function switchesPart(ctx) {
  const { uid, model } = ctx;
  /** @type {[string, string, string, (l: Limits) => boolean][]} trait, class, label, offered */
  const specs = [
    ["audio", "seedance-audio", "audio", (l) => Boolean(l.audio && l.audio.mode !== "none")],
    ["camera_fixed", "seedance-camera-fixed", "camera fixed", (l) => Boolean(l.camera_fixed?.supported)],
    ["return_last_frame", "seedance-return-last-frame", "save last frame", (l) => Boolean(l.last_frame)],
    ["web_search", "seedance-web-search", "web search", (l) => Boolean(l.web_search)],
    // Ark's offline tier: offered only when jobs go to Ark (the kernel's `provider`), whatever the model.
    ["flex", "seedance-flex", "flex (offline, half price)", () => model.get("provider") === "ark"],
  ];
  const switches = specs.map(([trait, className, text, offered]) => {
    const input = el("input", { className, attrs: { type: "checkbox", id: `${uid}-${trait}` } });
    ctx.listen(input, "change", () => ctx.setTrait(trait, input.checked));
    const label = el("label", { className: "seedance-check", attrs: { for: `${uid}-${trait}` } }, [input, el("span", { text })]);
    return { trait, input, label, offered };
  });
  const field = el("div", { className: "seedance-field seedance-switches" }, switches.map((s) => s.label));
  function draw() {
    const limits = ctx.limits();
    for (const s of switches) {
      s.input.checked = Boolean(model.get(s.trait));
      // A switch the model does not offer is hidden (and off: the kernel turns it off on a switch).
      show(s.label, s.offered(limits));
    }
  }
  return { field, draw };
}

/**
 * One button per aspect ratio the model offers, each showing the frame's shape.
 * @param {FormContext} ctx
 */
function ratioPart(ctx) {
  const { uid, model } = ctx;
  const group = el("div", { className: "seedance-ratios", attrs: { role: "group", "aria-labelledby": `${uid}-ratio` } });
  ctx.listen(group, "click", (/** @type {MouseEvent} */ event) => {
    const button = /** @type {HTMLElement | null} */ (event.target instanceof Element ? event.target.closest(".seedance-ratio") : null);
    if (button?.dataset.ratio !== undefined) ctx.setTrait("aspect_ratio", button.dataset.ratio);
  });
  const field = el("div", { className: "seedance-field" }, [
    el("span", { className: "seedance-label", text: "Aspect ratio", attrs: { id: `${uid}-ratio` } }),
    group,
  ]);
  let key = "";
  function rebuild() {
    const ratios = ctx.limits().ratios ?? [];
    if (ratios.join("|") === key) return;
    key = ratios.join("|");
    replaceChildren(
      group,
      ratios.map((ratio) => {
        const { width, height } = ratioShape(ratio);
        const shape = el("span", { className: "seedance-ratio-shape", attrs: { "aria-hidden": "true" } });
        shape.style.width = `${width}px`;
        shape.style.height = `${height}px`;
        if (!ratio.includes(":")) shape.dataset.free = "true"; // adaptive: the input's own shape
        return el("button", { className: "seedance-ratio", attrs: { type: "button", "data-ratio": ratio } }, [
          shape,
          el("span", { className: "seedance-ratio-text", text: ratio }),
        ]);
      }),
    );
  }
  function draw() {
    rebuild();
    const ratio = model.get("aspect_ratio");
    for (const button of /** @type {HTMLElement[]} */ ([...group.children])) {
      button.setAttribute("aria-pressed", String(button.dataset.ratio === ratio));
    }
  }
  return { field, draw };
}

/**
 * Every parameter control. `drawPrompt` and `drawParams` redraw them from the traits (and rebuild
 * them from `limits` when the model changed).
 * @param {FormContext} ctx
 */
export function createParameters(ctx) {
  const picker = modelPart(ctx);
  const prompt = promptPart(ctx);
  const duration = durationPart(ctx);
  const resolution = segmented(ctx, "seedance-resolution", "Resolution", (v) => ctx.setTrait("resolution", v));
  const resolutionField = el("div", { className: "seedance-field" }, [
    el("span", { className: "seedance-label", text: "Resolution" }),
    resolution.group,
  ]);
  const seed = seedPart(ctx);
  const switches = switchesPart(ctx);
  const ratio = ratioPart(ctx);
  return {
    modelField: picker.field,
    promptLabel: prompt.label,
    prompt: prompt.prompt,
    row: el("div", { className: "seedance-row" }, [duration.field, resolutionField, seed.field, switches.field]),
    ratioField: ratio.field,
    drawPrompt: prompt.draw,
    drawModel: picker.draw,
    drawParams() {
      duration.draw();
      resolution.rebuild(ctx.limits().resolutions ?? []);
      resolution.draw(ctx.model.get("resolution"));
      ratio.draw();
      switches.draw();
      seed.draw();
    },
  };
}
