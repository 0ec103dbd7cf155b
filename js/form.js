// SeedanceForm: the inline generation form and its history of submissions.
// The kernel's traits are the one source of truth: controls draw from them and set them back;
// everything else (generate, images, reuse, compare, videos) goes as {kind: ...} messages
// (js/lib/messages.js). Every piece of text from the kernel is set with textContent.
// The parts live in js/form/: parameters, images, history, compare; this file lays them out.
import "./form.css";
import { createCompare } from "./form/compare.js";
import { createContext } from "./form/context.js";
import { createHistory } from "./form/history.js";
import { createImages } from "./form/images.js";
import { createParameters } from "./form/parameters.js";
import { el, setText, show } from "./lib/dom.js";
import { formatCost } from "./lib/format.js";
import { MSG_GENERATE } from "./lib/messages.js";
import { inExportedPage } from "./lib/static_page.js";

export { PARAM_NAMES } from "./form/context.js";
export { parseSeed, ratioShape } from "./form/parameters.js";

/**
 * @typedef {import("./lib/model.js").AnyModel} AnyModel
 * @typedef {import("./form/context.js").FormContext} FormContext
 */

/**
 * The summary panel (output size, cost estimate, last seed, where jobs go) and its redraw.
 * @param {AnyModel} model
 */
function createSummary(model) {
  const output = el("div", { className: "seedance-output" });
  const estimate = el("div", { className: "seedance-estimate", attrs: { "aria-live": "polite" } });
  const seedUsed = el("div", { className: "seedance-seed-used" });
  const backend = el("div", { className: "seedance-backend" });
  const running = el("span", { className: "seedance-running" });
  const panel = el("aside", { className: "seedance-summary", attrs: { "aria-label": "Summary" } }, [
    el("span", { className: "seedance-label", text: "Output" }),
    output,
    el("span", { className: "seedance-label", text: "Cost" }),
    estimate,
    el("span", { className: "seedance-label", text: "Last seed used" }),
    seedUsed,
    el("span", { className: "seedance-label", text: "Sends to" }),
    backend,
  ]);
  function draw() {
    setText(output, model.get("output_label") || "—");
    const usd = model.get("estimate_usd");
    const price = model.get("flex") ? "flex price (half the list price)" : "list price";
    const cost = typeof usd === "number" ? `${formatCost(usd)} · ${price}, not the bill` : "no estimate (no list price for these settings)";
    setText(estimate, model.get("invalid_reason") ? "—" : cost);
    const last = model.get("last_seed");
    setText(seedUsed, last === null || last === undefined ? "—" : String(last));
    setText(backend, model.get("backend") || "—");
    const session = model.get("session") ?? "";
    setText(running, session ? ` · ${session}` : "");
  }
  return { panel, running, draw };
}

/**
 * The footer: why the form cannot be submitted, the session line, Generate. The button is
 * disabled while the kernel says the form is invalid; Ctrl/Cmd+Enter right after typing may beat
 * that verdict (the kernel has not seen the last keystrokes yet), so the shortcut always asks and
 * the kernel, which validates the values sent along, answers with a job or with the reason.
 * @param {FormContext} ctx
 * @param {HTMLElement} running the session line (drawn by the summary)
 * @param {() => boolean} waiting an image is still on its way to the kernel
 */
function createFooter(ctx, running, waiting) {
  const { model, uid } = ctx;
  const invalid = el("div", { className: "seedance-invalid", attrs: { role: "status", id: `${uid}-invalid` } });
  const generate = el("button", {
    className: "seedance-generate seedance-button seedance-primary",
    text: "Generate",
    attrs: { type: "button", "aria-describedby": `${uid}-invalid`, title: "Generate (Ctrl/Cmd+Enter)" },
  });
  const hint = el("span", { className: "seedance-hint", text: "Ctrl/Cmd+Enter to generate" });
  const footer = el("div", { className: "seedance-footer" }, [
    el("div", { className: "seedance-footer-text" }, [invalid, el("div", {}, [hint, running])]),
    generate,
  ]);
  /** @param {boolean} fromShortcut */
  function doGenerate(fromShortcut) {
    if (waiting()) return;
    if (generate.disabled && !fromShortcut) return;
    model.send({ kind: MSG_GENERATE, seq: ctx.editSeq(), params: ctx.shownParams() });
  }
  ctx.listen(generate, "click", () => doGenerate(false));
  /** @param {HTMLElement} root */
  function drawValidity(root) {
    const reason = model.get("invalid_reason") ?? "";
    setText(invalid, reason || (waiting() ? "Adding image…" : ""));
    show(invalid, Boolean(reason) || waiting());
    generate.disabled = Boolean(reason) || waiting();
    root.dataset.valid = String(!reason);
  }
  return { footer, doGenerate, drawValidity };
}

/**
 * @param {{ model: AnyModel, el: HTMLElement }} context
 * @returns {() => void} cleanup
 */
function render({ model, el: host }) {
  if (inExportedPage()) return () => {}; // the static twin beside this output shows the history
  const ctx = createContext(model);
  const params = createParameters(ctx);
  const images = createImages(ctx, { showError, onChange: () => footer.drawValidity(root) });
  const summary = createSummary(model);
  const footer = createFooter(ctx, summary.running, images.waiting);
  const errorBox = el("div", { className: "seedance-form-error", attrs: { role: "alert" } });
  const history = createHistory(ctx);
  const compare = createCompare(ctx, history);

  const main = el("div", { className: "seedance-form-main" }, [
    params.modelField,
    params.promptLabel,
    params.prompt,
    params.row,
    params.ratioField,
    images.field,
  ]);
  const root = el("div", { className: "seedance-form", attrs: { role: "form", "aria-label": "Seedance video generation" } }, [
    el("div", { className: "seedance-form-grid" }, [main, summary.panel]),
    footer.footer,
    errorBox,
    compare.el,
    history.el,
  ]);
  host.appendChild(root);

  // Ctrl/Cmd+Enter anywhere in the form generates; stop it there so the notebook does not also run the cell.
  ctx.listen(root, "keydown", (/** @type {KeyboardEvent} */ event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      event.stopPropagation();
      footer.doGenerate(true);
    }
  });

  /** @param {string} message */
  function showError(message) {
    setText(errorBox, message);
    show(errorBox, Boolean(message));
  }
  const drawValidity = () => footer.drawValidity(root);
  function drawError() {
    showError(model.get("error") ?? "");
    drawValidity();
  }

  /** @type {Record<string, () => void>} */
  const redraws = {
    "change:prompt": params.drawPrompt,
    "change:duration change:resolution change:aspect_ratio change:audio change:camera_fixed change:seed_mode change:seed change:return_last_frame change:web_search change:flex change:provider":
      params.drawParams,
    "change:model change:model_choices change:model_note": params.drawModel,
    "change:images": images.draw,
    "change:invalid_reason": () => {
      drawValidity();
      summary.draw();
    },
    "change:estimate_usd change:output_label change:last_seed change:backend change:session change:flex": summary.draw,
    "change:error": drawError,
    "change:history": () => {
      history.draw();
      compare.draw();
    },
    "change:compare": compare.draw,
    // A new model: every control is rebuilt from its limits.
    "change:limits": () => {
      params.drawModel();
      params.drawPrompt();
      params.drawParams();
      images.draw();
    },
  };
  for (const [events, fn] of Object.entries(redraws)) for (const event of events.split(" ")) ctx.onModel(event, fn);
  params.drawModel();
  params.drawPrompt();
  params.drawParams();
  images.draw();
  summary.draw();
  drawError();
  history.draw();
  compare.draw();

  return () => {
    ctx.dispose();
    history.destroy();
    compare.destroy();
    images.destroy();
    root.remove();
  };
}

export default { render };
