// JobView: one generation job, live. Renders the shared job card from the widget's traits,
// ticks the clocks locally (no kernel traffic), fetches the MP4 from the kernel as binary
// buffers, sends MSG_CANCEL from the cancel button and, once the user confirmed it in the card,
// MSG_GENERATE_AGAIN; the jobs made that way show as compact cards under this one (`again`).
import "./job_view.css";
import { el, replaceChildren, show } from "./lib/dom.js";
import { CARD_FIELDS, createJobCard } from "./lib/job_card.js";
import { MSG_CANCEL, MSG_CONTINUE, MSG_GENERATE_AGAIN } from "./lib/messages.js";
import { inExportedPage } from "./lib/static_page.js";
import { requestLastFrame, requestVideo } from "./lib/video_channel.js";

/** @typedef {import("./lib/model.js").AnyModel} AnyModel */
/** @typedef {import("./lib/job_card.js").JobCardData & { id: string }} AgainCard */

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
 * The compact cards of the jobs made with "Generate again", newest first; kept across redraws so a
 * playing video keeps playing.
 * @param {AnyModel} model
 * @param {AbortSignal} signal
 */
function createAgainList(model, signal) {
  const list = el("div", { className: "seedance-again-list" });
  const section = el("section", { className: "seedance-again-section", attrs: { "aria-label": "Generated again" } }, [
    el("div", { className: "seedance-again-title", text: "Made from this card" }),
    list,
  ]);
  /** @type {Map<string, import("./lib/job_card.js").JobCard>} */
  const cards = new Map();

  /** @param {string} id */
  function cardFor(id) {
    let card = cards.get(id);
    if (!card) {
      card = createJobCard({
        compact: true,
        onCancel: () => model.send({ kind: MSG_CANCEL, id }),
        onGenerateAgain: () => model.send({ kind: MSG_GENERATE_AGAIN, id }),
        onContinue: () => model.send({ kind: MSG_CONTINUE, id }),
        loadVideo: () => requestVideo(model, { fields: { job: id }, signal }),
        loadLastFrame: () => requestLastFrame(model, { fields: { job: id }, signal }),
      });
      card.el.dataset.id = id;
      cards.set(id, card);
    }
    return card;
  }
  function draw() {
    /** @type {AgainCard[]} */
    const items = model.get("again") ?? [];
    const nodes = items.map((item) => {
      const card = cardFor(item.id);
      card.update(item);
      return card.el;
    });
    const current = Array.from(list.children);
    if (current.length !== nodes.length || nodes.some((n, i) => current[i] !== n)) replaceChildren(list, nodes);
    show(section, items.length > 0);
  }
  function destroy() {
    for (const card of cards.values()) card.destroy();
    cards.clear();
  }
  return { el: section, draw, destroy };
}

/**
 * @param {{ model: AnyModel, el: HTMLElement }} context
 * @returns {() => void} cleanup
 */
function render({ model, el: host }) {
  if (inExportedPage()) return () => {}; // the static twin beside this output shows the job
  // A view removed while its video is still arriving stops listening at once.
  const aborter = new AbortController();
  const card = createJobCard({
    onCancel: () => model.send({ kind: MSG_CANCEL }),
    onGenerateAgain: () => model.send({ kind: MSG_GENERATE_AGAIN, id: model.get("local_id") }),
    onContinue: () => model.send({ kind: MSG_CONTINUE, id: model.get("local_id") }),
    loadVideo: () => loadVideo(model, aborter.signal),
    loadLastFrame: () => requestLastFrame(model, { signal: aborter.signal }),
  });
  const again = createAgainList(model, aborter.signal);
  host.appendChild(card.el);
  host.appendChild(again.el);

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
  model.on("change:again", again.draw);
  redraw();
  onCallbackError();
  again.draw();

  return () => {
    for (const event of events) model.off(event, schedule);
    model.off("change:callback_error", onCallbackError);
    model.off("change:again", again.draw);
    aborter.abort();
    card.destroy();
    again.destroy();
    card.el.remove();
    again.el.remove();
  };
}

export default { render };
