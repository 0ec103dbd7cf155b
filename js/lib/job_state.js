// The job states of seedance_widgets.jobs.JobState, and how the UI groups them.

/** States after which nothing changes any more. */
export const FINAL_STATES = new Set(["done", "failed", "timed_out", "cancelled", "expired", "may_exist"]);

/** @type {Record<string, string>} label shown when the kernel sent no status text */
const LABELS = {
  intent: "Preparing",
  uploading: "Uploading images",
  submitting: "Submitting",
  queued: "Queued",
  running: "Generating",
  downloading: "Downloading",
  done: "Done",
  failed: "Failed",
  timed_out: "Timed out",
  cancelled: "Stopped watching",
  expired: "Expired",
  may_exist: "May exist",
};

/**
 * @param {string} state
 * @returns {boolean}
 */
export function isFinal(state) {
  return FINAL_STATES.has(state);
}

/**
 * The colour family of a state: "active", "ok", "error", "warn" or "idle".
 * @param {string} state
 * @returns {"active" | "ok" | "error" | "warn" | "idle"}
 */
export function stateTone(state) {
  if (state === "done") return "ok";
  if (state === "failed" || state === "expired") return "error";
  if (state === "timed_out" || state === "may_exist") return "warn";
  if (state === "cancelled") return "idle";
  return "active";
}

/**
 * @param {string} state
 * @returns {string}
 */
export function stateLabel(state) {
  return LABELS[state] ?? state;
}
