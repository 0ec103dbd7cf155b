// What every part of the form shares: the model, listeners that are removed with the view,
// ordered trait edits, and the MP4s fetched from the kernel.
import { requestVideo } from "../lib/video_channel.js";

/** @typedef {import("../lib/model.js").AnyModel} AnyModel */

/** The parameter traits (seedance_widgets/widgets/form.py PARAM_TRAITS). */
export const PARAM_NAMES = Object.freeze([
  "prompt",
  "duration",
  "aspect_ratio",
  "resolution",
  "audio",
  "seed_mode",
  "seed",
  "camera_fixed",
]);

/**
 * Limits the kernel sends for the controls (SeedanceForm.limits); absent ones use defaults.
 * @typedef {Object} Limits
 * @property {number} [max_prompt_chars]
 * @property {number} [min_duration]
 * @property {number} [max_duration]
 * @property {number} [max_seed]
 * @property {number} [max_references]
 * @property {number} [max_upload_bytes]
 * @property {string[]} [aspect_ratios]
 * @property {string[]} [resolutions]
 */

/**
 * @typedef {Object} FormContext
 * @property {AnyModel} model
 * @property {string} uid prefix of this form's element ids
 * @property {AbortSignal} signal aborted when the view goes away (stops kernel requests)
 * @property {(target: EventTarget, type: string, fn: (event: any) => void) => void} listen DOM listener, removed with the view
 * @property {(event: string, fn: (...args: any[]) => void) => void} onModel model listener, removed with the view
 * @property {(name: string, value: unknown) => void} setTrait an edit from the page (bumps edit_seq)
 * @property {() => Record<string, unknown>} shownParams the parameter values the page shows
 * @property {() => number} editSeq the page's edit counter (sent with actions)
 * @property {() => Limits} limits
 * @property {(jobId: string) => Promise<Blob>} videoBlob a job's MP4, fetched once per view
 * @property {() => void} dispose remove every listener and stop every request
 */

let formCounter = 0;

/**
 * @param {AnyModel} model
 * @returns {FormContext}
 */
export function createContext(model) {
  formCounter += 1;
  /** @type {(() => void)[]} */
  const cleanups = [];
  const inFlight = new AbortController();
  /** MP4 blobs by job id, shared by the history cards and the compare view */
  const videoBlobs = new Map();

  // Ordering. ipywidgets holds back a trait edit while an earlier one is unacknowledged, but
  // sends custom messages at once, so "type, then Ctrl+Enter" could reach the kernel as
  // "generate, then the last keystrokes". Every edit therefore bumps `edit_seq` (sent with it),
  // and actions that depend on the form carry that number and the values the page shows: the
  // kernel applies those first and drops held-back edits that are not newer.
  /** @param {string} name @param {unknown} value */
  function setTrait(name, value) {
    model.set(name, value);
    model.set("edit_seq", (model.get("edit_seq") ?? 0) + 1);
    model.save_changes();
  }

  /** @param {string} jobId @returns {Promise<Blob>} */
  function videoBlob(jobId) {
    if (!videoBlobs.has(jobId)) {
      const promise = requestVideo(model, { fields: { job: jobId }, signal: inFlight.signal });
      promise.catch(() => videoBlobs.delete(jobId)); // a failure may be retried later
      videoBlobs.set(jobId, promise);
    }
    return videoBlobs.get(jobId);
  }

  return {
    model,
    uid: `seedance-form-${formCounter}`,
    signal: inFlight.signal,
    listen(target, type, fn) {
      target.addEventListener(type, fn);
      cleanups.push(() => target.removeEventListener(type, fn));
    },
    onModel(event, fn) {
      model.on(event, fn);
      cleanups.push(() => model.off(event, fn));
    },
    setTrait,
    shownParams() {
      /** @type {Record<string, unknown>} */
      const params = {};
      for (const name of PARAM_NAMES) params[name] = model.get(name);
      return params;
    },
    editSeq: () => model.get("edit_seq") ?? 0,
    limits: () => model.get("limits") ?? {},
    videoBlob,
    dispose() {
      for (const cleanup of cleanups) cleanup();
      inFlight.abort();
    },
  };
}
