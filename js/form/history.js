// The form's history: one compact job card per job (this form's, then the output folder's earlier
// ones), newest first, each with "use these settings again", "Generate again (paid)" (asks first)
// and a compare pick. Cards are kept across redraws so playing videos keep playing.
import { el, replaceChildren, setText, show } from "../lib/dom.js";
import { createJobCard } from "../lib/job_card.js";
import { MSG_CANCEL, MSG_COMPARE, MSG_COMPARE_CLOSE, MSG_CONTINUE, MSG_GENERATE_AGAIN, MSG_REUSE_SETTINGS } from "../lib/messages.js";
import { requestLastFrame } from "../lib/video_channel.js";

/**
 * @typedef {import("./context.js").FormContext} FormContext
 * @typedef {import("../lib/job_card.js").JobCardData & { id: string, seed_used?: number | null }} HistoryCard
 * @typedef {{ root: HTMLElement, card: import("../lib/job_card.js").JobCard, pick: HTMLInputElement }} Entry
 */

/**
 * @typedef {Object} HistoryPart
 * @property {HTMLElement} el the history section
 * @property {() => void} draw redraw from the `history` trait
 * @property {(ids: string[]) => void} setPicks the compare picks (the compare view opens or closes)
 * @property {() => void} destroy stop every card
 */

/**
 * @param {FormContext} ctx
 * @returns {HistoryPart}
 */
export function createHistory(ctx) {
  const { model, uid } = ctx;
  const title = el("h4", { className: "seedance-history-title" });
  const list = el("div", { className: "seedance-history-list" });
  const section = el("section", { className: "seedance-history", attrs: { "aria-label": "History" } }, [title, list]);
  /** compare picks made in this view (the kernel's `compare` trait holds the active pair) */
  let picks = /** @type {string[]} */ ([]);
  /** @type {Map<string, Entry>} */
  const entries = new Map();

  /** @param {string} id @returns {Entry} */
  function makeEntry(id) {
    const card = createJobCard({
      compact: true,
      onCancel: () => model.send({ kind: MSG_CANCEL, id }),
      onGenerateAgain: () => model.send({ kind: MSG_GENERATE_AGAIN, id }),
      onContinue: () => model.send({ kind: MSG_CONTINUE, id }),
      loadVideo: () => ctx.videoBlob(id),
      loadLastFrame: () => requestLastFrame(model, { fields: { job: id }, signal: ctx.signal }),
    });
    const reuse = el("button", { className: "seedance-reuse seedance-button", text: "Use these settings again", attrs: { type: "button" } });
    const pick = el("input", { className: "seedance-compare-pick", attrs: { type: "checkbox", id: `${uid}-pick-${id}` } });
    reuse.addEventListener("click", () => model.send({ kind: MSG_REUSE_SETTINGS, id, seq: ctx.editSeq() }));
    pick.addEventListener("change", () => {
      picks = pick.checked ? [...picks.filter((p) => p !== id), id].slice(-2) : picks.filter((p) => p !== id);
      if (picks.length === 2) model.send({ kind: MSG_COMPARE, ids: picks });
      else if ((model.get("compare") ?? []).length) model.send({ kind: MSG_COMPARE_CLOSE });
      drawPicks();
    });
    const tools = el("div", { className: "seedance-card-tools" }, [
      reuse,
      el("label", { className: "seedance-check", attrs: { for: `${uid}-pick-${id}` } }, [pick, el("span", { text: "compare" })]),
    ]);
    const root = el("article", { className: "seedance-card", attrs: { "data-id": id } }, [card.el, tools]);
    return { root, card, pick };
  }

  function drawPicks() {
    for (const [id, entry] of entries) {
      entry.pick.checked = picks.includes(id);
      // Only finished videos can be compared, and only two at a time.
      entry.pick.disabled = entry.root.dataset.state !== "done" || (!entry.pick.checked && picks.length >= 2);
    }
  }

  function draw() {
    /** @type {HistoryCard[]} */
    const items = model.get("history") ?? [];
    const seen = new Set(items.map((c) => c.id));
    for (const [id, entry] of entries) {
      if (!seen.has(id)) {
        entry.card.destroy();
        entries.delete(id);
      }
    }
    const nodes = items.map((item) => {
      let entry = entries.get(item.id);
      if (!entry) {
        entry = makeEntry(item.id);
        entries.set(item.id, entry);
      }
      entry.card.update(item);
      entry.root.dataset.state = item.state;
      return entry.root;
    });
    // Re-append only when the order changed, so playing videos are not interrupted.
    const current = Array.from(list.children);
    if (current.length !== nodes.length || nodes.some((n, i) => current[i] !== n)) replaceChildren(list, nodes);
    setText(title, items.length ? `History · ${items.length} job${items.length === 1 ? "" : "s"}` : "");
    show(section, items.length > 0);
    picks = picks.filter((p) => seen.has(p));
    drawPicks();
  }

  return {
    el: section,
    draw,
    setPicks(ids) {
      picks = [...ids];
      drawPicks();
    },
    destroy() {
      for (const entry of entries.values()) entry.card.destroy();
    },
  };
}
