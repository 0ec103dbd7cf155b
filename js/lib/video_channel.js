// Fetch a job's MP4 from the kernel over the widget's comm: send {kind: MSG_VIDEO_REQUEST, id} and
// collect the MSG_VIDEO_RESPONSE chunks (binary buffers) into a Blob. The video then plays from a
// blob: URL, independent of where the notebook sits and of the gateway's expiring URL.
import { MSG_LAST_FRAME_REQUEST, MSG_LAST_FRAME_RESPONSE, MSG_VIDEO_REQUEST, MSG_VIDEO_RESPONSE } from "./messages.js";

/**
 * The subset of an anywidget model this module uses.
 * @typedef {Object} MessageModel
 * @property {(event: string, cb: (msg: any, buffers: DataView<ArrayBuffer>[]) => void) => void} on
 * @property {(event: string, cb: (msg: any, buffers: DataView<ArrayBuffer>[]) => void) => void} off
 * @property {(content: object, callbacks?: unknown, buffers?: ArrayBuffer[]) => void} send
 */

let counter = 0;

/**
 * Ask the kernel for the video and resolve with it as a Blob (rejects with the kernel's reason).
 * @param {MessageModel} model
 * @param {{ timeoutMs?: number, signal?: AbortSignal, fields?: Record<string, unknown> }} [options] timeoutMs: give up when no chunk arrives for this long; fields: extra request fields (e.g. {job} for a widget holding several jobs)
 * @returns {Promise<Blob>}
 */
export function requestVideo(model, options = {}) {
  const timeoutMs = options.timeoutMs ?? 30000;
  counter += 1;
  const id = `v${Date.now().toString(36)}-${counter}`;
  return new Promise((resolve, reject) => {
    /** @type {(DataView<ArrayBuffer> | undefined)[]} */
    let parts = [];
    let received = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;

    function finish() {
      clearTimeout(timer);
      model.off("msg:custom", onMessage);
      options.signal?.removeEventListener("abort", onAbort);
    }
    function armTimer() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        finish();
        reject(new Error(`no answer from the kernel for ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
    }
    function onAbort() {
      finish();
      reject(new Error("aborted"));
    }
    /**
     * @param {any} msg
     * @param {DataView<ArrayBuffer>[]} buffers
     */
    function onMessage(msg, buffers) {
      if (!msg || msg.kind !== MSG_VIDEO_RESPONSE || msg.id !== id) return;
      if (msg.error) {
        finish();
        reject(new Error(String(msg.error)));
        return;
      }
      const chunks = Number(msg.chunks);
      const index = Number(msg.chunk);
      if (parts.length !== chunks) parts = new Array(chunks);
      if (parts[index] === undefined && buffers?.[0]) {
        parts[index] = buffers[0];
        received += 1;
      }
      if (received === chunks) {
        finish();
        resolve(new Blob(/** @type {DataView<ArrayBuffer>[]} */ (parts), { type: msg.mime || "video/mp4" }));
      } else {
        armTimer();
      }
    }

    model.on("msg:custom", onMessage);
    options.signal?.addEventListener("abort", onAbort);
    armTimer();
    model.send({ ...options.fields, kind: MSG_VIDEO_REQUEST, id });
  });
}

/**
 * Ask the kernel for a job's saved last frame ({kind: MSG_LAST_FRAME_REQUEST, id}) and resolve with
 * it as an image Blob, or null when the kernel has none (or does not answer in time).
 * @param {MessageModel} model
 * @param {{ timeoutMs?: number, signal?: AbortSignal, fields?: Record<string, unknown> }} [options]
 * @returns {Promise<Blob | null>}
 */
export function requestLastFrame(model, options = {}) {
  const timeoutMs = options.timeoutMs ?? 30000;
  counter += 1;
  const id = `f${Date.now().toString(36)}-${counter}`;
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(null), timeoutMs);
    const onAbort = () => done(null);
    /** @param {Blob | null} value */
    function done(value) {
      clearTimeout(timer);
      model.off("msg:custom", onMessage);
      options.signal?.removeEventListener("abort", onAbort);
      resolve(value);
    }
    /**
     * @param {any} msg
     * @param {DataView<ArrayBuffer>[]} buffers
     */
    function onMessage(msg, buffers) {
      if (!msg || msg.kind !== MSG_LAST_FRAME_RESPONSE || msg.id !== id) return;
      done(msg.ok && buffers?.[0] ? new Blob([buffers[0]], { type: msg.mime || "image/png" }) : null);
    }
    model.on("msg:custom", onMessage);
    options.signal?.addEventListener("abort", onAbort);
    model.send({ ...options.fields, kind: MSG_LAST_FRAME_REQUEST, id });
  });
}
