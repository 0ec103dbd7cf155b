// The job states of seedance_widgets.jobs.JobState as people see them: a label, an optional note
// and a tone (the colour family). seedance_widgets/widgets/states.py reads the same table from
// seedance_widgets/widgets/contract.json; js/__tests__/contract.test.js checks this one against it.

/**
 * @typedef {"active" | "ok" | "error" | "warn" | "idle"} Tone
 * @typedef {{ label: string, note?: string, tone: Tone, final: boolean }} StateStyle
 */

/** @type {Readonly<Record<string, StateStyle>>} */
export const STATES = Object.freeze({
  intent: { label: "Preparing", tone: "active", final: false },
  uploading: { label: "Uploading images", tone: "active", final: false },
  submitting: { label: "Submitting", tone: "active", final: false },
  queued: { label: "Queued", tone: "active", final: false },
  running: { label: "Generating", tone: "active", final: false },
  downloading: { label: "Downloading", tone: "active", final: false },
  done: { label: "Done", tone: "ok", final: true },
  failed: { label: "Failed", tone: "error", final: true },
  timed_out: { label: "Timed out", note: "task kept: attach later", tone: "warn", final: true },
  cancelled: { label: "Stopped watching", tone: "idle", final: true },
  expired: { label: "Expired", tone: "error", final: true },
  may_exist: { label: "May exist", note: "not re-sent", tone: "warn", final: true },
});

/** States after which nothing changes any more. */
export const FINAL_STATES = new Set(Object.keys(STATES).filter((state) => STATES[state].final));

/**
 * @param {string} state
 * @returns {StateStyle | undefined}
 */
function styleOf(state) {
  return Object.prototype.hasOwnProperty.call(STATES, state) ? STATES[state] : undefined;
}

/**
 * @param {string} state
 * @returns {boolean}
 */
export function isFinal(state) {
  return FINAL_STATES.has(state);
}

/**
 * The colour family of a state (unknown states are "active").
 * @param {string} state
 * @returns {Tone}
 */
export function stateTone(state) {
  return styleOf(state)?.tone ?? "active";
}

/**
 * What a state reads as when the kernel sent no status text: "Generating",
 * "Timed out (task kept: attach later)"; unknown states verbatim.
 * @param {string} state
 * @returns {string}
 */
export function stateLabel(state) {
  const style = styleOf(state);
  if (!style) return state;
  return style.note ? `${style.label} (${style.note})` : style.label;
}
