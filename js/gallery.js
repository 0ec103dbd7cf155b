// Gallery: a labelled grid of players, one compact job card per job, rows and columns by a
// request parameter. Cells show progress while their job runs and the video once it is done
// (fetched from the kernel as binary chunks, like the JobView: never a gateway URL).
// A grid may hold a hundred players: only those in view fetch their bytes, the others when they
// scroll in, and a player scrolled far away drops its blob so the page's memory stays bounded.
import "./gallery.css";
import { el, replaceChildren, setText, show } from "./lib/dom.js";
import { createJobCard } from "./lib/job_card.js";
import { MSG_CONTINUE, MSG_GENERATE_AGAIN } from "./lib/messages.js";
import { inExportedPage } from "./lib/static_page.js";
import { requestLastFrame, requestVideo } from "./lib/video_channel.js";

/** @typedef {import("./lib/model.js").AnyModel} AnyModel */

/**
 * @typedef {Object} Cell
 * @property {number} row
 * @property {number} col
 * @property {Record<string, any>} card job card data with its `id`
 */

/**
 * Group cells by grid position: "row,col" -> cards in the order given.
 * @param {Cell[]} cells
 * @returns {Map<string, Record<string, any>[]>}
 */
export function groupCells(cells) {
  const groups = new Map();
  for (const cell of cells ?? []) {
    const key = `${cell.row},${cell.col}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(cell.card);
  }
  return groups;
}

/** How far beyond the viewport a loaded player keeps its bytes (a screen or two of scrolling back). */
export const KEEP_MARGIN = "100% 0px";

/**
 * The nearest ancestor that scrolls (the notebook's panel in JupyterLab), or null for the viewport.
 * @param {Element} node
 * @returns {Element | null}
 */
export function scrollParent(node) {
  for (let at = node.parentElement; at; at = at.parentElement) {
    const overflow = getComputedStyle(at).overflowY;
    if ((overflow === "auto" || overflow === "scroll") && at.scrollHeight > at.clientHeight) return at;
  }
  return null;
}

/**
 * Tell each card whether its player is wanted: in view -> fetch; out of the keep zone -> release.
 * Without IntersectionObserver (old browsers, test DOMs) every player is wanted at once.
 * @param {(el: Element) => (wanted: boolean) => void} target the card's setVideoWanted for an element
 * @returns {{ observe: (el: Element) => void, unobserve: (el: Element) => void, disconnect: () => void }}
 */
export function createVisibility(target) {
  const IO = globalThis.IntersectionObserver;
  if (typeof IO !== "function") {
    return { observe: (node) => target(node)(true), unobserve: () => {}, disconnect: () => {} };
  }
  /** @type {Set<Element>} */
  const nodes = new Set();
  /** @type {IntersectionObserver | null} */
  let keep = null;
  /** @param {IntersectionObserverEntry[]} entries */
  const onKeep = (entries) => {
    for (const entry of entries) if (!entry.isIntersecting) target(entry.target)(false);
  };
  // Two zones: the viewport itself (no margin: a player fetches only once it is seen) and a keep
  // zone a screen beyond it; leaving the keep zone releases, so scrolling back a little never
  // refetches. The keep zone's root is the scroller the cards sit in (made once the first card is
  // seen, when it is in the page): with the viewport as root, a notebook panel's clipping would
  // hide every card the moment it leaves the screen, whatever the margin.
  const view = new IO((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      if (!keep) {
        keep = new IO(onKeep, { root: scrollParent(entry.target), rootMargin: KEEP_MARGIN });
        for (const node of nodes) keep.observe(node);
      }
      target(entry.target)(true);
    }
  });
  return {
    observe(node) {
      nodes.add(node);
      view.observe(node);
      keep?.observe(node);
    },
    unobserve(node) {
      nodes.delete(node);
      view.unobserve(node);
      keep?.unobserve(node);
    },
    disconnect() {
      nodes.clear();
      view.disconnect();
      keep?.disconnect();
    },
  };
}

/**
 * @param {{ model: AnyModel, el: HTMLElement }} context
 * @returns {() => void} cleanup
 */
function render({ model, el: host }) {
  if (inExportedPage()) return () => {}; // the static twin beside this output shows the grid
  const title = el("div", { className: "seedance-gallery-title", attrs: { role: "status" } });
  const grid = el("div", { className: "seedance-gallery-grid", attrs: { role: "table", "aria-label": "Generated videos" } });
  const error = el("div", { className: "seedance-gallery-error", attrs: { role: "alert" } });
  const root = el("div", { className: "seedance-gallery" }, [title, grid, error]);
  host.appendChild(root);

  /** job cards by job id, reused across redraws so playing videos keep playing */
  const cards = new Map();
  /** aborts the video requests still in flight when the view goes away */
  const inFlight = new AbortController();
  /** card roots -> their job id, for the visibility observers */
  const idOf = new WeakMap();
  const visibility = createVisibility((node) => {
    const card = cards.get(idOf.get(node));
    return (wanted) => card?.setVideoWanted(wanted);
  });

  /** @param {string} id */
  function cardFor(id) {
    let card = cards.get(id);
    if (!card) {
      card = createJobCard({
        compact: true,
        lazyVideo: true,
        onGenerateAgain: () => model.send({ kind: MSG_GENERATE_AGAIN, id }),
        onContinue: () => model.send({ kind: MSG_CONTINUE, id }),
        loadVideo: () => requestVideo(model, { fields: { job: id }, signal: inFlight.signal }),
        loadLastFrame: () => requestLastFrame(model, { fields: { job: id }, signal: inFlight.signal }),
      });
      card.el.dataset.id = id;
      cards.set(id, card);
      idOf.set(card.el, id);
      visibility.observe(card.el);
    }
    return card;
  }

  function draw() {
    /** @type {string[]} */
    const rowLabels = model.get("row_labels") ?? [];
    /** @type {string[]} */
    const colLabels = model.get("col_labels") ?? [];
    /** @type {Cell[]} */
    const cells = model.get("cells") ?? [];
    const groups = groupCells(cells);
    const nRows = Math.max(1, rowLabels.length);
    const nCols = Math.max(1, colLabels.length);
    const hasRowHeads = rowLabels.some(Boolean);
    const hasColHeads = colLabels.some(Boolean);

    setText(title, model.get("title") ?? "");
    const message = model.get("error") ?? "";
    setText(error, message);
    show(error, Boolean(message));

    // Same labels and same places: only the cards' data changed (progress ticks), so update
    // them in place and leave the layout (and any playing video) alone.
    const layoutKey = JSON.stringify([rowLabels, colLabels, cells.map((c) => [c.row, c.col, c.card.id])]);
    if (layoutKey === grid.dataset.layout) {
      for (const cell of cells) cardFor(cell.card.id).update(cell.card);
      return;
    }
    grid.dataset.layout = layoutKey;
    grid.style.gridTemplateColumns = `${hasRowHeads ? "max-content " : ""}repeat(${nCols}, minmax(200px, 1fr))`;

    const seen = new Set();
    /** @type {HTMLElement[]} */
    const nodes = [];
    if (hasColHeads) {
      const headRow = [];
      if (hasRowHeads) headRow.push(el("div", { className: "seedance-gallery-corner", attrs: { role: "columnheader" } }));
      colLabels.forEach((label, col) =>
        headRow.push(
          el("div", {
            className: "seedance-gallery-col-label",
            text: label,
            attrs: { role: "columnheader", "data-col": String(col), title: label },
          }),
        ),
      );
      nodes.push(el("div", { className: "seedance-gallery-row", attrs: { role: "row" } }, headRow));
    }
    for (let row = 0; row < nRows; row += 1) {
      const rowNodes = [];
      if (hasRowHeads) {
        const label = rowLabels[row] ?? "";
        rowNodes.push(
          el("div", {
            className: "seedance-gallery-row-label",
            text: label,
            attrs: { role: "rowheader", "data-row": String(row), title: label },
          }),
        );
      }
      for (let col = 0; col < nCols; col += 1) {
        const items = groups.get(`${row},${col}`) ?? [];
        const cell = el("div", {
          className: "seedance-gallery-cell",
          attrs: { role: "cell", "data-row": String(row), "data-col": String(col) },
        });
        for (const item of items) {
          const card = cardFor(item.id);
          card.update(item);
          seen.add(item.id);
          cell.appendChild(card.el);
        }
        if (!items.length) cell.appendChild(el("span", { className: "seedance-gallery-empty", text: "—" }));
        rowNodes.push(cell);
      }
      nodes.push(el("div", { className: "seedance-gallery-row", attrs: { role: "row" } }, rowNodes));
    }
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        visibility.unobserve(card.el);
        card.destroy();
        cards.delete(id);
      }
    }
    // display: contents rows keep one CSS grid while giving assistive tech a table shape.
    replaceChildren(grid, nodes);
  }

  // Several traits arrive in one message (hold_sync): draw once per burst.
  let scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      draw();
    });
  }
  const events = ["change:cells", "change:row_labels", "change:col_labels", "change:title", "change:error"];
  for (const event of events) model.on(event, schedule);
  draw();

  return () => {
    for (const event of events) model.off(event, schedule);
    inFlight.abort();
    visibility.disconnect();
    for (const card of cards.values()) card.destroy();
    cards.clear();
    root.remove();
  };
}

export default { render };
