// What every part of the form shares: the model, listeners that are removed with the view,
// ordered trait edits, and the MP4s fetched from the kernel.
import { requestVideo } from "../lib/video_channel.js";

/** @typedef {import("../lib/model.js").AnyModel} AnyModel */

/** The parameter traits (seedance_widgets/widgets/form.py PARAM_TRAITS; `model` first). */
export const PARAM_NAMES = Object.freeze([
  "model",
  "prompt",
  "duration",
  "aspect_ratio",
  "resolution",
  "audio",
  "seed_mode",
  "seed",
  "camera_fixed",
  "return_last_frame",
  "web_search",
  "flex",
]);

/**
 * Limits on reference videos or audio (catalog.limits_json's video_refs / audio_refs).
 * @typedef {Object} MediaLimits
 * @property {number} max_count
 * @property {string} role
 * @property {number | null} min_seconds
 * @property {number | null} max_seconds
 * @property {number | null} max_total_seconds
 * @property {number | null} max_bytes
 * @property {string[]} formats
 */

/**
 * One slot's upload cap and accepted MIME types (SeedanceForm's form_limits "uploads").
 * @typedef {{ max_bytes: number, accept: string[] }} UploadLimits
 */

/**
 * The current model's limits as the kernel sends them (SeedanceForm.limits: the catalogue's
 * limits_json of the model's spec, plus the prompt cap and the uploads). The page builds every
 * control from these: none is written in js/.
 * @typedef {Object} Limits
 * @property {string} [id]
 * @property {string} [label]
 * @property {{ min: number, max: number, auto: number | null, auto_values: number[], default: number }} [durations]
 * @property {string[]} [resolutions]
 * @property {string[]} [ratios]
 * @property {{ mode: string, field: string | null }} [audio]
 * @property {{ max_first: number, max_last: number, max_references: number, reference_role: string | null, roles: string[], modes_mix: boolean }} [images]
 * @property {MediaLimits | null} [video_refs]
 * @property {MediaLimits | null} [audio_refs]
 * @property {boolean} [last_frame]
 * @property {{ min: number, max: number } | null} [seed]
 * @property {{ supported: boolean, field: string | null }} [camera_fixed]
 * @property {boolean} [web_search]
 * @property {string[]} [unconfirmed]
 * @property {string[]} [notes]
 * @property {number} [max_prompt_chars]
 * @property {{ image?: UploadLimits, video?: UploadLimits, audio?: UploadLimits }} [uploads]
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
