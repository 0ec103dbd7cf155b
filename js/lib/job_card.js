// The job card: status, progress with ETA and elapsed clock, parameter chips, cost estimate,
// task id, cancel button, video player, download link, details and error. Used by the JobView
// and by the form's history gallery. It knows nothing about widget models: callers pass plain
// data (JobCardData) and callbacks, so the gallery can feed it from a list trait.
import "./job_card.css";
import { CONTINUE_FROM_HERE, canGenerateAgain, createAgainControl } from "./again.js";
import { el, replaceChildren, setText, show } from "./dom.js";
import { formatBytes, formatClock, formatCost, paramChips, shortenPrompt, videoChips } from "./format.js";
import { isFinal, stateLabel, stateTone } from "./job_state.js";
import { card_fields } from "../../seedance_widgets/widgets/contract.json";

/**
 * @typedef {import("./format.js").JobParams} JobParams
 * @typedef {import("./format.js").VideoFacts} VideoFacts
 */

/**
 * The card's data fields: the JobView's synced traits. Read from contract.json's card_fields, the
 * list seedance_widgets/widgets/_cards.py reads too, so a field is added in one place; the kernel
 * builds the data once (_cards.card_data) for the JobView, the gallery's cells and the form's history.
 * @type {readonly string[]}
 */
export const CARD_FIELDS = Object.freeze([...card_fields]);

/**
 * What the card shows; the field names are CARD_FIELDS (the JobView's trait names).
 * @typedef {Object} JobCardData
 * @property {string} [local_id] the job's local id
 * @property {string} state one of seedance_widgets.jobs.JobState
 * @property {string} [status_text] the kernel's status line ("Generating · 42%")
 * @property {string} [gateway_status] the gateway's raw status word
 * @property {string} [prompt]
 * @property {number} [progress] 0-100
 * @property {number | null} [eta_seconds] seconds to the predicted finish, as of kernel_time
 * @property {number | null} [submitted_at] unix seconds (kernel clock)
 * @property {number | null} [started_at] unix seconds (kernel clock)
 * @property {number | null} [finished_at] unix seconds (kernel clock)
 * @property {number | null} [kernel_time] kernel clock when these values were sent
 * @property {number | null} [cost_estimate] USD, an estimate
 * @property {JobParams} [params]
 * @property {string} [task_id]
 * @property {string} [error]
 * @property {string} [error_code]
 * @property {VideoFacts | null} [video]
 * @property {Record<string, unknown>} [provenance]
 * @property {boolean} [from_cache]
 * @property {boolean} [reconnecting]
 * @property {LastFrame | null} [last_frame] the saved last frame, when the job asked for it
 * @property {number | null} [usage_tokens] the provider's bill in tokens, once reported (Ark)
 * @property {number | null} [cost_usd] that bill in USD (null: not reported, or no token price)
 * @property {string} [cost_text] the estimate and the bill side by side, as the kernel words it
 * @property {string | null} [cancel_outcome] what a cancel did: cancelled, not_cancellable, cancel_failed, not_sent, stopped_watching
 * @property {string} [cancel_text] that outcome in words ("" when not cancelled)
 */

/**
 * A job's saved last frame as the kernel describes it (never its bytes: fetched on request).
 * @typedef {Object} LastFrame
 * @property {string} file_name
 * @property {string} [path]
 * @property {number} [size]
 * @property {boolean} [can_continue] the model takes a first frame, so "continue from here" is offered
 */

/**
 * @typedef {Object} JobCardOptions
 * @property {() => void} [onCancel] the cancel button was pressed
 * @property {() => void} [onGenerateAgain] the user confirmed "Generate again (paid)" (no button without it)
 * @property {() => Promise<Blob | string | null>} [loadVideo] fetch the MP4 (a Blob or a URL)
 * @property {() => Promise<Blob | null>} [loadLastFrame] fetch the saved last frame (an image Blob)
 * @property {() => void} [onContinue] the user confirmed "Continue from here (paid)" (no button without it)
 * @property {() => number} [now] wall clock in ms (tests pass their own)
 * @property {boolean} [compact] no details block and a smaller player (gallery cards)
 * @property {boolean} [lazyVideo] fetch the video only after `setVideoWanted(true)` (a gallery
 *   calls it when the player scrolls into view), so a long grid never pulls every clip at once
 */

/**
 * @typedef {Object} JobCard
 * @property {HTMLElement} el the card's root (`.seedance-job`)
 * @property {(data: JobCardData) => void} update redraw from new data
 * @property {(message: string) => void} showCallbackError show an error raised by a callback
 * @property {() => void} destroy stop timers, drop listeners, revoke blob URLs
 * @property {(wanted: boolean) => void} setVideoWanted true: fetch the video (once) when the job is
 *   done; false: drop the player's source and revoke its blob URL (fetched again when wanted)
 */

/**
 * The card's elements (DOM hooks in docs/internals.md); nothing drawn yet.
 * @param {boolean} compact
 */
function buildParts(compact) {
  const status = el("span", { className: "seedance-status", attrs: { role: "status" } });
  const promptText = el("span", { className: "seedance-prompt-text" });
  const cancel = el("button", {
    className: "seedance-cancel seedance-button",
    text: "Stop",
    attrs: {
      type: "button",
      title: "Stop this job: Ark cancels a task still queued (not billed); a running task, or one on the ToAPIs gateway (no cancel), is no longer watched and may still be billed",
    },
  });
  const dot = el("span", { className: "seedance-dot", attrs: { "aria-hidden": "true" } });
  const head = el("div", { className: "seedance-job-head" }, [dot, status, promptText, cancel]);

  const fill = el("div", { className: "seedance-progress-fill" });
  const bar = el(
    "div",
    {
      className: "seedance-progress",
      attrs: { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" },
    },
    [fill],
  );

  const eta = el("span", { className: "seedance-eta" });
  const elapsed = el("span", { className: "seedance-elapsed" });
  const chips = el("span", { className: "seedance-chips" });
  const cost = el("span", { className: "seedance-cost seedance-chip", attrs: { title: "list price estimate; the provider's bill beside it once reported" } });
  const taskId = el("span", { className: "seedance-task-id seedance-mono" });
  const flags = el("span", { className: "seedance-flags" });
  const meta = el("div", { className: "seedance-meta" }, [eta, elapsed, chips, cost, taskId, flags]);

  const error = el("div", { className: "seedance-error", attrs: { role: "alert" } });
  // What the stop button did: cancelled (not billed), cannot be cancelled (still watching), stopped watching.
  const cancelResult = el("div", { className: "seedance-cancel-result", attrs: { role: "status" } });

  const video = el("video", {
    className: "seedance-video",
    attrs: { controls: "", preload: "metadata", playsinline: "" },
  });
  const videoNote = el("div", { className: "seedance-video-note" });
  const videoFacts = el("div", { className: "seedance-meta seedance-video-facts" });
  // The <img> itself is made only once a frame arrived (a card without one holds no image element).
  const lastFrame = el("figure", { className: "seedance-last-frame" }, [
    el("figcaption", { className: "seedance-last-frame-caption", text: "last frame" }),
  ]);
  const download = el("a", { className: "seedance-download seedance-button", text: "Download .mp4" });
  const copyId = el("button", {
    className: "seedance-copy-id seedance-button",
    text: "Copy task id",
    attrs: { type: "button" },
  });
  const actions = el("div", { className: "seedance-actions" }, [download, copyId]);

  const detailsBody = el("dl", { className: "seedance-details-list" });
  const details = el("details", { className: "seedance-details" }, [
    el("summary", { text: "Details and provenance" }),
    detailsBody,
  ]);
  const callbackError = el("pre", { className: "seedance-callback-error", attrs: { role: "alert" } });

  const root = el("div", { className: `seedance-job${compact ? " seedance-job-compact" : ""}` }, [
    head,
    bar,
    meta,
    error,
    cancelResult,
    video,
    videoNote,
    videoFacts,
    lastFrame,
    actions,
    details,
    callbackError,
  ]);
  // prettier-ignore
  return {
    root, status, promptText, cancel, bar, fill, eta, elapsed, chips, cost, taskId, flags, error, cancelResult,
    video, videoNote, videoFacts, lastFrame, download, copyId, actions, details, detailsBody, callbackError,
  };
}

/** @typedef {ReturnType<typeof buildParts>} CardParts */

/**
 * The details list: (term, value) rows, from the data and its provenance.
 * @param {JobCardData} data
 * @returns {[string, string][]}
 */
export function detailRows(data) {
  /** @type {[string, string][]} */
  const rows = [];
  const prov = data.provenance ?? {};
  /** @type {VideoFacts} */
  const facts = data.video ?? {};
  if (data.task_id) rows.push(["task id", data.task_id]);
  const seed = prov.seed ?? data.params?.seed;
  if (seed !== undefined && seed !== null) rows.push(["seed", String(seed)]);
  if (prov.model) rows.push(["model", String(prov.model)]);
  if (facts.width && facts.height) rows.push(["size", `${facts.width}×${facts.height}`]);
  if (facts.duration) rows.push(["duration", `${facts.duration.toFixed(2)} s`]);
  if (facts.fps) rows.push(["frame rate", `${facts.fps} fps`]);
  if (facts.size) rows.push(["file size", formatBytes(facts.size)]);
  if (facts.path ?? facts.file_name) rows.push(["file", String(facts.path ?? facts.file_name)]);
  if (facts.sha256) rows.push(["sha256", facts.sha256]);
  if (data.error_code) rows.push(["error code", data.error_code]);
  for (const key of ["submitted", "started", "finished"]) {
    const at = /** @type {Record<string, unknown>} */ (data)[`${key}_at`];
    if (typeof at === "number") rows.push([key, new Date(at * 1000).toLocaleString()]);
  }
  if (typeof data.cost_estimate === "number") rows.push(["cost", formatCost(data.cost_estimate)]);
  else if (hasParams(data)) rows.push(["cost", "no estimate"]);
  if (isBilled(data) && data.cost_text) rows.push(["billed", data.cost_text]);
  if (data.last_frame) rows.push(["last frame", String(data.last_frame.path ?? data.last_frame.file_name)]);
  rows.push(["from cache", data.from_cache ? "yes (no API call)" : "no"]);
  if (prov.request) rows.push(["request", JSON.stringify(prov.request)]);
  if (prov.package_version) rows.push(["seedance_widgets", String(prov.package_version)]);
  return rows;
}

/**
 * @param {CardParts} parts
 * @param {JobCardData} data
 */
function drawDetails(parts, data) {
  replaceChildren(
    parts.detailsBody,
    detailRows(data).flatMap(([term, value]) => [
      el("dt", { text: term }),
      el("dd", { text: value, className: term === "sha256" || term === "request" ? "seedance-mono" : "" }),
    ]),
  );
}

/**
 * Elapsed time (while running) and the ETA countdown, at kernel time `kernelNow`.
 * @param {CardParts} parts
 * @param {JobCardData} data
 * @param {number} kernelNow kernel clock now (s), estimated from the last sync
 * @param {number} receivedAt browser clock (s) when `data` arrived
 */
function drawClocks(parts, data, kernelNow, receivedAt) {
  const final = isFinal(data.state);
  const start = data.started_at ?? data.submitted_at ?? null;
  if (typeof start === "number") {
    const end = final && typeof data.finished_at === "number" ? data.finished_at : kernelNow;
    setText(parts.elapsed, `elapsed ${formatClock(end - start)}`);
    show(parts.elapsed, !final);
  } else {
    show(parts.elapsed, false);
  }
  if (!final && typeof data.eta_seconds === "number" && Number.isFinite(data.eta_seconds)) {
    const sentAt = typeof data.kernel_time === "number" ? data.kernel_time : receivedAt;
    const left = data.eta_seconds - (kernelNow - sentAt);
    setText(parts.eta, left > 0 ? `ETA ≈ ${formatClock(left)}` : "finishing…");
    show(parts.eta, true);
  } else {
    show(parts.eta, false);
  }
}

/**
 * Everything but the clocks, the details and the video's bytes: status, prompt, bar, chips,
 * cost, task id, flags, error, and which parts show.
 * @param {CardParts} parts
 * @param {JobCardData} data
 * @param {boolean} compact
 */
function drawBody(parts, data, compact) {
  const state = data.state ?? "intent";
  const final = isFinal(state);
  const progress = Math.max(0, Math.min(100, Math.round(data.progress ?? 0)));

  parts.root.dataset.state = state;
  parts.root.dataset.tone = stateTone(state);
  setText(parts.status, data.status_text || stateLabel(state));
  setText(parts.promptText, data.prompt ? `“${shortenPrompt(data.prompt)}”` : "");
  parts.promptText.title = data.prompt ?? "";

  show(parts.cancel, !final);
  if (final) parts.cancel.disabled = true;

  // The bar stays visible for failures (frozen where it stopped) so it never looks finished;
  // a job that ended before any progress has no bar worth showing.
  show(parts.bar, state !== "done" && !(final && progress === 0));
  parts.bar.setAttribute("aria-valuenow", String(progress));
  parts.bar.dataset.indeterminate = String(!final && progress === 0);
  parts.fill.style.width = `${progress}%`;

  replaceChildren(
    parts.chips,
    paramChips(data.params ?? {}).map((text) => el("span", { className: "seedance-chip", text })),
  );
  // A job with known settings and no list price says so plainly: never a made-up number.
  const priced = typeof data.cost_estimate === "number";
  // The kernel's one wording ("est. ~$0.52 · billed 108,900 tokens ($0.44)") when it sends it.
  setText(parts.cost, data.cost_text || (priced ? formatCost(data.cost_estimate) : "no estimate"));
  show(parts.cost, Boolean(data.cost_text) || priced || hasParams(data));
  parts.cost.dataset.billed = String(isBilled(data));
  setText(parts.cancelResult, data.cancel_text ?? "");
  show(parts.cancelResult, Boolean(data.cancel_text));
  setText(parts.taskId, data.task_id ?? "");
  show(parts.taskId, Boolean(data.task_id));
  replaceChildren(parts.flags, [
    ...(data.from_cache ? [el("span", { className: "seedance-chip seedance-from-cache", text: "from cache" })] : []),
    ...(data.reconnecting ? [el("span", { className: "seedance-chip seedance-reconnecting", text: "reconnecting…" })] : []),
  ]);

  setText(parts.error, data.error ?? "");
  show(parts.error, Boolean(data.error));

  const done = state === "done" && Boolean(data.video);
  show(parts.video, done);
  show(parts.videoFacts, done);
  // While running the card stays compact (task id is in the meta line); actions come at the end.
  show(parts.actions, done || (final && Boolean(data.task_id)));
  show(parts.download, done);
  show(parts.copyId, Boolean(data.task_id));
  if (done && data.video) {
    if (data.video.width) parts.video.width = Math.min(640, data.video.width);
    // Both attributes give the player its box before (or after releasing) its bytes, so a lazy
    // gallery does not jump while scrolling.
    if (data.video.width && data.video.height) {
      parts.video.height = Math.round((parts.video.width * data.video.height) / data.video.width);
    }
    replaceChildren(parts.videoFacts, [
      ...videoChips(data.video).map((text) => el("span", { className: "seedance-chip", text })),
      el("span", { className: "seedance-mono", text: data.video.path ?? data.video.file_name ?? "" }),
    ]);
  }
  if (!done) show(parts.videoNote, false);
  show(parts.lastFrame, done && Boolean(data.last_frame));
  show(parts.details, !compact && final);
}

/**
 * Whether the provider reported the job's bill (tokens or dollars).
 * @param {JobCardData} data
 */
function isBilled(data) {
  return typeof data.usage_tokens === "number" || typeof data.cost_usd === "number";
}

/**
 * Whether a cancel left the job watched (Ark: it runs and cannot be cancelled, or Ark could not be
 * asked): the button then offers to stop watching.
 * @param {JobCardData} data
 */
export function stillWatchedAfterCancel(data) {
  return !isFinal(data.state) && (data.cancel_outcome === "not_cancellable" || data.cancel_outcome === "cancel_failed");
}

/**
 * Whether the card knows the job's settings (not a task attached by id only).
 * @param {JobCardData} data
 */
function hasParams(data) {
  return Boolean(data.params && Object.keys(data.params).length > 0);
}

/**
 * Build a job card.
 * @param {JobCardOptions} [options]
 * @returns {JobCard}
 */
export function createJobCard(options = {}) {
  const now = options.now ?? (() => Date.now());
  const parts = buildParts(Boolean(options.compact));
  const { cancel, copyId, video, videoNote, download, callbackError } = parts;
  const onGenerateAgain = options.onGenerateAgain;
  const again = onGenerateAgain ? createAgainControl(onGenerateAgain) : null;
  if (again) {
    parts.actions.appendChild(again.button);
    parts.actions.after(again.confirm);
  }
  const onContinue = options.onContinue;
  const follow = onContinue ? createAgainControl(onContinue, CONTINUE_FROM_HERE) : null;
  if (follow) {
    parts.actions.appendChild(follow.button);
    (again ? again.confirm : parts.actions).after(follow.confirm);
  }

  /** @type {JobCardData} */
  let data = { state: "intent" };
  /** browser clock (s) when `data` arrived: anchors the kernel clock for ticking. */
  let receivedAt = now() / 1000;
  /** @type {ReturnType<typeof setInterval> | null} */
  let ticker = null;
  /** the video that is (being) loaded, so each file is fetched once */
  let videoKey = "";
  /** @type {string | null} */
  let objectUrl = null;
  /** whether the caller wants the bytes now (always, unless options.lazyVideo) */
  let videoWanted = !options.lazyVideo;
  /** the last frame that is (being) loaded, and its blob: URL */
  let frameKey = "";
  /** @type {string | null} */
  let frameUrl = null;
  let destroyed = false;

  /** Kernel clock now, estimated from the last sync (tolerates kernel/browser clock skew). */
  function kernelNow() {
    const local = now() / 1000;
    if (typeof data.kernel_time === "number") return data.kernel_time + (local - receivedAt);
    return local;
  }
  const tick = () => drawClocks(parts, data, kernelNow(), receivedAt);

  function syncTicker() {
    const wantTicker = !isFinal(data.state) && !destroyed;
    if (wantTicker && ticker === null) ticker = setInterval(tick, 1000);
    if (!wantTicker && ticker !== null) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  /** the cancel outcome when the button was last pressed (undefined: not pressed, or answered) */
  /** @type {string | null | undefined} */
  let cancelAsked;

  function onCancel() {
    cancel.disabled = true;
    setText(cancel, "Stopping…");
    cancelAsked = data.cancel_outcome ?? null;
    try {
      options.onCancel?.();
    } catch (err) {
      showCallbackError(String(err));
    }
  }

  function onCopy() {
    const id = data.task_id ?? "";
    if (!id) return;
    navigator.clipboard?.writeText(id).then(
      () => setText(copyId, "Copied"),
      () => setText(copyId, id),
    );
  }

  cancel.addEventListener("click", onCancel);
  copyId.addEventListener("click", onCopy);

  /** @param {string} message */
  function showCallbackError(message) {
    setText(callbackError, message);
    show(callbackError, message !== "");
  }

  /** @param {string | null} url */
  function setVideoUrl(url) {
    if (objectUrl && objectUrl !== url) URL.revokeObjectURL(objectUrl);
    objectUrl = url && url.startsWith("blob:") ? url : null;
    if (url) {
      video.src = url;
      download.href = url;
      download.setAttribute("download", data.video?.file_name ?? "seedance.mp4");
    } else {
      video.removeAttribute("src");
      download.removeAttribute("href");
    }
  }

  function maybeLoadVideo() {
    const facts = data.video;
    if (data.state !== "done" || !facts || !options.loadVideo || !videoWanted) return;
    const key = facts.sha256 ?? facts.file_name ?? "video";
    if (key === videoKey) return;
    videoKey = key;
    parts.root.dataset.video = "loading";
    setText(videoNote, "Loading video from the kernel…");
    show(videoNote, true);
    options.loadVideo().then(
      (source) => {
        if (destroyed || key !== videoKey) return;
        if (source === null) {
          parts.root.dataset.video = "missing";
          setText(videoNote, "The video file is not available in the kernel.");
          return;
        }
        setVideoUrl(typeof source === "string" ? source : URL.createObjectURL(source));
        parts.root.dataset.video = "loaded";
        show(videoNote, false);
      },
      (err) => {
        if (destroyed || key !== videoKey) return;
        videoKey = "";
        parts.root.dataset.video = "failed";
        setText(videoNote, `Could not load the video: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  }

  function maybeLoadLastFrame() {
    const frame = data.last_frame;
    if (data.state !== "done" || !frame || !options.loadLastFrame) return;
    const key = `${frame.file_name}:${frame.size ?? ""}`;
    if (key === frameKey) return;
    frameKey = key;
    options.loadLastFrame().then(
      (blob) => {
        if (destroyed || key !== frameKey || !blob) return;
        if (frameUrl) URL.revokeObjectURL(frameUrl);
        frameUrl = URL.createObjectURL(blob);
        let img = parts.lastFrame.querySelector("img");
        if (!img) {
          img = el("img", { className: "seedance-last-frame-img", attrs: { alt: "last frame of the clip" } });
          parts.lastFrame.prepend(img);
        }
        img.src = frameUrl;
      },
      () => {
        if (key === frameKey) frameKey = ""; // may be asked again on the next update
      },
    );
  }

  /** @param {JobCardData} next */
  function update(next) {
    data = next;
    receivedAt = now() / 1000;
    drawBody(parts, data, Boolean(options.compact));
    drawCancel();
    if (again) {
      const offered = canGenerateAgain(data, isFinal(data.state));
      again.draw(offered, data.cost_estimate);
      if (offered) show(parts.actions, true);
    }
    if (follow) {
      const offered = data.state === "done" && Boolean(data.last_frame?.can_continue);
      follow.draw(offered, data.cost_estimate);
      if (offered) show(parts.actions, true);
    }
    drawDetails(parts, data);
    tick();
    syncTicker();
    maybeLoadVideo();
    maybeLoadLastFrame();
  }

  /** Once the kernel answered a press (a new outcome), a job still watched offers "Stop watching". */
  function drawCancel() {
    if (cancelAsked !== undefined && (data.cancel_outcome ?? null) !== cancelAsked) cancelAsked = undefined;
    if (cancelAsked === undefined && stillWatchedAfterCancel(data)) {
      cancel.disabled = false;
      setText(cancel, "Stop watching");
    }
  }

  /** @param {boolean} wanted */
  function setVideoWanted(wanted) {
    if (wanted === videoWanted) return;
    videoWanted = wanted;
    if (wanted) {
      maybeLoadVideo();
      return;
    }
    // Far out of view: let the browser free the bytes; a load still in flight is dropped on arrival.
    if (!videoKey) return;
    videoKey = "";
    setVideoUrl(null);
    video.load(); // detaches the old media resource at once
    parts.root.dataset.video = "released";
  }

  function destroy() {
    destroyed = true;
    syncTicker();
    cancel.removeEventListener("click", onCancel);
    copyId.removeEventListener("click", onCopy);
    again?.destroy();
    follow?.destroy();
    setVideoUrl(null);
    if (frameUrl) URL.revokeObjectURL(frameUrl);
    frameUrl = null;
  }

  show(callbackError, false);
  update(data);
  return { el: parts.root, update, showCallbackError, destroy, setVideoWanted };
}
