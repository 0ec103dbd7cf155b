// Paid actions on a finished job card: "Generate again (paid)" (the same settings, a new seed, a new
// task) and "Continue from here (paid)" (a new task whose first frame is this clip's last frame).
// Spending is asked about in the page, never in the kernel (a blocking prompt there would freeze
// the kernel): the first click only opens a confirmation in the card, naming the estimate (or "no
// estimate"); only the confirm button there calls onConfirm, once. Cancel (or Escape) closes it
// with nothing sent.
import { el, setText, show } from "./dom.js";
import { formatCost } from "./format.js";

/**
 * @typedef {Object} AgainControl
 * @property {HTMLButtonElement} button the "Generate again (paid)" button (`button.seedance-again`)
 * @property {HTMLElement} confirm the confirmation row (`.seedance-again-confirm`)
 * @property {(visible: boolean, costEstimate: number | null | undefined) => void} draw show or hide
 * @property {() => void} destroy drop the listeners
 */

/**
 * What a paid action says: its DOM class prefix, button text, tooltip and the question it asks.
 * @typedef {Object} PaidAction
 * @property {string} prefix class prefix: `button.<prefix>`, `.<prefix>-confirm`, `.<prefix>-yes`, `.<prefix>-no`
 * @property {string} label the button's text
 * @property {string} title the button's tooltip
 * @property {string} what the question's subject ("A new video with these settings and a new seed")
 */

/** @type {PaidAction} */
export const GENERATE_AGAIN = {
  prefix: "seedance-again",
  label: "Generate again (paid)",
  title: "Same settings, a new seed: a new task (asks first)",
  what: "A new video with these settings and a new seed",
};

/** @type {PaidAction} */
export const CONTINUE_FROM_HERE = {
  prefix: "seedance-continue",
  label: "Continue from here (paid)",
  title: "A new clip that starts from this clip's last frame: same model and settings (asks first)",
  what: "A new clip starting from this last frame, with the same model and settings,",
};

/**
 * @param {() => void} onConfirm the user confirmed: ask the kernel for the new task
 * @param {PaidAction} [action] what the control offers (default: generate again)
 * @returns {AgainControl}
 */
export function createAgainControl(onConfirm, action = GENERATE_AGAIN) {
  const { prefix } = action;
  const button = el("button", {
    className: `${prefix} seedance-button`,
    text: action.label,
    attrs: { type: "button", title: action.title },
  });
  const question = el("span", { className: `${prefix}-question` });
  const yes = el("button", {
    className: `${prefix}-yes seedance-button seedance-primary`,
    text: "Generate (paid)",
    attrs: { type: "button" },
  });
  const no = el("button", { className: `${prefix}-no seedance-button`, text: "Cancel", attrs: { type: "button" } });
  const confirm = el("div", { className: `${prefix}-confirm seedance-paid-confirm`, attrs: { role: "group", "aria-label": "Confirm a paid generation" } }, [
    question,
    yes,
    no,
  ]);
  let cost = /** @type {number | null | undefined} */ (null);
  let visible = false;
  /** true only while the confirmation is open: a yes is acted on once per opening */
  let armed = false;

  function close() {
    armed = false;
    show(confirm, false);
    show(button, visible);
  }
  function open() {
    armed = true;
    const estimate = typeof cost === "number" ? formatCost(cost) : "no estimate";
    setText(question, `${action.what} is a new task: ${estimate}, billed by the gateway. Go ahead?`);
    show(button, false);
    show(confirm, true);
    yes.focus();
  }
  function onYes() {
    if (!armed) return; // a second click of a double click, or a stale event
    close();
    onConfirm();
  }
  /** @param {KeyboardEvent} event */
  function onKey(event) {
    if (event.key === "Escape") close();
  }
  button.addEventListener("click", open);
  yes.addEventListener("click", onYes);
  no.addEventListener("click", close);
  confirm.addEventListener("keydown", onKey);
  show(confirm, false);
  show(button, false);

  return {
    button,
    confirm,
    draw(nextVisible, costEstimate) {
      cost = costEstimate;
      if (nextVisible === visible) return;
      visible = nextVisible;
      close();
    },
    destroy() {
      button.removeEventListener("click", open);
      yes.removeEventListener("click", onYes);
      no.removeEventListener("click", close);
      confirm.removeEventListener("keydown", onKey);
    },
  };
}

/**
 * Whether the card of `data` may offer "Generate again": the job ended and its settings are known.
 * @param {{ state?: string, params?: Record<string, unknown> }} data
 * @param {boolean} final
 */
export function canGenerateAgain(data, final) {
  return final && Boolean(data.params && Object.keys(data.params).length > 0);
}
