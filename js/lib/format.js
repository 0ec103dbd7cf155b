// Formatting shared by the job card, the form and the gallery. Pure functions (unit-tested).

/**
 * "m:ss" (or "h:mm:ss") for a number of seconds; "" when unknown.
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function formatClock(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/**
 * Human byte size: "412 KB", "3.1 MB".
 * @param {number | null | undefined} bytes
 * @returns {string}
 */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/**
 * "≈ $0.26 (estimate)": always says it is an estimate, never a bill.
 * @param {number | null | undefined} usd
 * @returns {string}
 */
export function formatCost(usd) {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return "";
  return `≈ $${usd.toFixed(2)} (estimate)`;
}

/**
 * Shorten a prompt to one readable line.
 * @param {string} prompt
 * @param {number} [max]
 * @returns {string}
 */
export function shortenPrompt(prompt, max = 90) {
  const oneLine = (prompt ?? "").replace(/\s+/g, " ").trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1).trimEnd()}…` : oneLine;
}

/**
 * @typedef {Object} JobParams
 * @property {string} [model] the model's id
 * @property {string} [model_label] the model's name ("Seedance 2")
 * @property {string} [resolution]
 * @property {string} [aspect_ratio]
 * @property {number} [duration]
 * @property {boolean} [audio]
 * @property {number | null} [seed]
 * @property {boolean} [camera_fixed]
 * @property {number} [images] count of input images
 * @property {number} [videos] count of reference videos
 * @property {number} [audios] count of reference audio clips
 * @property {boolean} [web_search]
 */

/**
 * The chips that summarise a request's parameters, in reading order.
 * @param {JobParams} params
 * @returns {string[]}
 */
export function paramChips(params) {
  /** @type {string[]} */
  const chips = [];
  if (!params) return chips;
  if (params.model_label) chips.push(params.model_label);
  if (params.resolution) chips.push(params.resolution);
  if (params.aspect_ratio) chips.push(params.aspect_ratio);
  // A length of 0 or below is the model's "auto": it picks the length.
  if (params.duration !== undefined && params.duration !== null) chips.push(params.duration > 0 ? `${params.duration} s` : "auto length");
  if (params.audio) chips.push("audio");
  if (params.camera_fixed) chips.push("camera fixed");
  if (params.seed !== undefined && params.seed !== null && params.seed !== -1) chips.push(`seed ${params.seed}`);
  else chips.push("seed random");
  if (params.images) chips.push(`${params.images} image${params.images === 1 ? "" : "s"}`);
  if (params.videos) chips.push(`${params.videos} ref video${params.videos === 1 ? "" : "s"}`);
  if (params.audios) chips.push(`${params.audios} ref audio`);
  if (params.web_search) chips.push("web search");
  return chips;
}

/**
 * @typedef {Object} VideoFacts
 * @property {number} [width]
 * @property {number} [height]
 * @property {number} [fps]
 * @property {number} [duration] seconds
 * @property {number} [size] bytes
 * @property {string} [sha256]
 * @property {string} [file_name]
 * @property {string} [path] path as shown to the user
 */

/**
 * The chips that describe a finished video.
 * @param {VideoFacts | null | undefined} video
 * @returns {string[]}
 */
export function videoChips(video) {
  /** @type {string[]} */
  const chips = [];
  if (!video) return chips;
  if (video.width && video.height) chips.push(`${video.width}×${video.height}`);
  if (video.fps) chips.push(`${Math.round(video.fps * 100) / 100} fps`);
  if (video.duration) chips.push(`${video.duration.toFixed(1)} s`);
  if (video.size) chips.push(formatBytes(video.size));
  return chips;
}
