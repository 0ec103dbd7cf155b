// Two history videos side by side (the kernel's `compare` trait names them), played, paused and
// sought together.
import { el, replaceChildren, setText, show } from "../lib/dom.js";
import { paramChips } from "../lib/format.js";
import { MSG_COMPARE_CLOSE } from "../lib/messages.js";

/**
 * @typedef {import("./context.js").FormContext} FormContext
 * @typedef {import("./history.js").HistoryCard} HistoryCard
 */

/**
 * @typedef {Object} ComparePart
 * @property {HTMLElement} el the compare section
 * @property {() => void} draw redraw from the `compare` and `history` traits
 * @property {() => void} destroy stop both videos and revoke their blob URLs
 */

/**
 * Synchronised playback: play, pause and seek on either video drive both. Seeks made here are
 * remembered and not mirrored back, or two playing videos would keep seeking each other and never
 * get past the first frames.
 * @param {HTMLVideoElement[]} videos
 * @param {HTMLButtonElement} play the "Play both" button
 */
function syncPlayback(videos, play) {
  let syncing = false;
  /** @type {WeakSet<HTMLVideoElement>} */
  const ownSeeks = new WeakSet();
  /** @param {HTMLVideoElement} video @param {number} time */
  function seek(video, time) {
    ownSeeks.add(video);
    video.currentTime = time;
  }
  /** @param {HTMLVideoElement} source @param {(other: HTMLVideoElement) => void} apply */
  function mirror(source, apply) {
    if (syncing) return;
    syncing = true;
    for (const other of videos) if (other !== source) apply(other);
    syncing = false;
  }
  for (const video of videos) {
    video.addEventListener("play", () => {
      setText(play, "Pause both");
      mirror(video, (o) => void o.play()?.catch(() => {}));
    });
    video.addEventListener("pause", () => {
      if (videos.every((v) => v.paused)) setText(play, "Play both");
      mirror(video, (o) => o.pause());
    });
    video.addEventListener("seeked", () => {
      if (ownSeeks.has(video)) {
        ownSeeks.delete(video);
        return;
      }
      mirror(video, (o) => {
        if (Math.abs(o.currentTime - video.currentTime) > 0.05) seek(o, video.currentTime);
      });
    });
  }
  play.addEventListener("click", () => {
    const playing = videos.some((v) => !v.paused);
    for (const video of videos) {
      if (playing) video.pause();
      else {
        if (video.ended || video.currentTime > 0) seek(video, 0);
        void video.play()?.catch(() => {});
      }
    }
  });
}

/**
 * @param {FormContext} ctx
 * @param {{ setPicks: (ids: string[]) => void }} history
 * @returns {ComparePart}
 */
export function createCompare(ctx, history) {
  const { model, uid } = ctx;
  const section = el("section", { className: "seedance-compare", attrs: { "aria-label": "Compare two videos" } });
  /** @type {{ videos: HTMLVideoElement[], urls: string[] } | null} */
  let current = null;

  function closeMedia() {
    if (!current) return;
    for (const video of current.videos) video.pause();
    for (const url of current.urls) URL.revokeObjectURL(url);
    current = null;
  }

  /**
   * One side: the video (loaded from the kernel), the prompt and the chips.
   * @param {string} id
   * @param {HistoryCard | undefined} item
   * @param {{ videos: HTMLVideoElement[], urls: string[] }} state
   */
  function pane(id, item, state) {
    const video = el("video", { className: "seedance-compare-video", attrs: { preload: "auto", playsinline: "", muted: "" } });
    video.muted = true;
    state.videos.push(video);
    const note = el("div", { className: "seedance-video-note", text: "Loading video from the kernel…" });
    ctx.videoBlob(id).then(
      (blob) => {
        if (current !== state) return;
        const url = URL.createObjectURL(blob);
        state.urls.push(url);
        video.src = url;
        note.remove();
      },
      (err) => setText(note, `Could not load the video: ${err instanceof Error ? err.message : String(err)}`),
    );
    const chips = paramChips({ ...(item?.params ?? {}), seed: item?.seed_used ?? item?.params?.seed });
    return el("figure", { className: "seedance-compare-pane", attrs: { "data-id": id } }, [
      video,
      note,
      el("figcaption", {}, [
        el("div", { className: "seedance-compare-prompt", text: item?.prompt ?? "" }),
        el("div", { className: "seedance-chips" }, chips.map((text) => el("span", { className: "seedance-chip", text }))),
      ]),
    ]);
  }

  function draw() {
    /** @type {string[]} */
    const ids = model.get("compare") ?? [];
    const key = ids.join("|");
    if (section.dataset.key === key) return;
    section.dataset.key = key;
    closeMedia();
    replaceChildren(section, []);
    show(section, ids.length === 2);
    if (ids.length !== 2) return;
    history.setPicks(ids);
    /** @type {HistoryCard[]} */
    const items = model.get("history") ?? [];
    const state = { videos: /** @type {HTMLVideoElement[]} */ ([]), urls: /** @type {string[]} */ ([]) };
    current = state;
    const panes = ids.map((id) => pane(id, items.find((c) => c.id === id), state));
    const play = el("button", { className: "seedance-button seedance-compare-play", text: "Play both", attrs: { type: "button" } });
    syncPlayback(state.videos, play);
    const loop = el("input", { className: "seedance-compare-loop", attrs: { type: "checkbox", id: `${uid}-loop` } });
    loop.addEventListener("change", () => {
      for (const video of state.videos) video.loop = loop.checked;
    });
    const close = el("button", { className: "seedance-button seedance-compare-close", text: "Close", attrs: { type: "button" } });
    close.addEventListener("click", () => {
      history.setPicks([]);
      model.send({ kind: MSG_COMPARE_CLOSE });
    });
    replaceChildren(section, [
      el("div", { className: "seedance-compare-head" }, [
        el("h4", { className: "seedance-compare-title", text: "Side by side" }),
        play,
        el("label", { className: "seedance-check", attrs: { for: `${uid}-loop` } }, [loop, el("span", { text: "loop" })]),
        close,
      ]),
      el("div", { className: "seedance-compare-panes" }, panes),
    ]);
  }

  return { el: section, draw, destroy: closeMedia };
}
