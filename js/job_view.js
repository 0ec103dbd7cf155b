// JobView: one generation job, live. Renders the shared job card from the widget's traits,
// ticks the clocks locally (no kernel traffic), fetches the MP4 from the kernel as binary
// buffers and sends MSG_CANCEL from the cancel button.
import "./job_view.css";
import { CARD_FIELDS, createJobCard } from "./lib/job_card.js";
import { MSG_CANCEL } from "./lib/messages.js";
import { requestVideo } from "./lib/video_channel.js";

/** @typedef {import("./lib/model.js").AnyModel} AnyModel */

/**
 * The card's data from the model's traits.
 * @param {AnyModel} model
 * @returns {import("./lib/job_card.js").JobCardData}
 */
export function cardData(model) {
  /** @type {Record<string, unknown>} */
  const data = {};
  for (const name of CARD_FIELDS) data[name] = model.get(name);
  return /** @type {import("./lib/job_card.js").JobCardData} */ (/** @type {unknown} */ (data));
}

/**
 * The MP4: from the embedded bytes when the notebook carries them, else from the kernel.
 * @param {AnyModel} model
 * @param {AbortSignal} signal aborted when the view goes away
 * @returns {Promise<Blob | string | null>}
 */
async function loadVideo(model, signal) {
  /** @type {DataView<ArrayBuffer> | null} */
  const embedded = model.get("video_bytes");
  if (embedded && embedded.byteLength > 0) return new Blob([embedded], { type: "video/mp4" });
  return requestVideo(model, { signal });
}

/**
 * @param {{ model: AnyModel, el: HTMLElement }} context
 * @returns {() => void} cleanup
 */
function render({ model, el }) {
  // A view removed while its video is still arriving stops listening at once.
  const aborter = new AbortController();
  const card = createJobCard({
    onCancel: () => model.send({ kind: MSG_CANCEL }),
    loadVideo: () => loadVideo(model, aborter.signal),
  });
  el.appendChild(card.el);

  // Several traits arrive in one comm message (hold_sync): redraw once per burst, in a
  // microtask, so no frame is spent on intermediate states and no latency is added.
  let scheduled = false;
  function redraw() {
    scheduled = false;
    card.update(cardData(model));
  }
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(redraw);
  }
  function onCallbackError() {
    card.showCallbackError(model.get("callback_error") ?? "");
  }

  const events = CARD_FIELDS.map((name) => `change:${name}`);
  for (const event of events) model.on(event, schedule);
  model.on("change:callback_error", onCallbackError);
  redraw();
  onCallbackError();

  return () => {
    for (const event of events) model.off(event, schedule);
    model.off("change:callback_error", onCallbackError);
    aborter.abort();
    card.destroy();
    card.el.remove();
  };
}

export default { render };
