// A small in-memory stand-in for an anywidget model (get/set/on/off/send/save_changes), for the JS
// unit tests only: the Python tests and the browser tests use the real kernel-side widget.

export class MemoryModel {
  /** @param {Record<string, unknown>} state */
  constructor(state) {
    /** @type {Record<string, unknown>} */
    this.state = { ...state };
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
    /** @type {{content: any, buffers: unknown}[]} */
    this.sent = [];
  }
  /** @param {string} name */
  get(name) {
    return this.state[name];
  }
  /** @param {string} name @param {unknown} value */
  set(name, value) {
    this.state[name] = value;
    this.emit(`change:${name}`, value);
  }
  /** @param {Record<string, unknown>} values set several traits, as one kernel message does */
  update(values) {
    for (const [name, value] of Object.entries(values)) this.set(name, value);
  }
  /** @param {string} event @param {Function} cb */
  on(event, cb) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)?.add(cb);
  }
  /** @param {string} event @param {Function} cb */
  off(event, cb) {
    this.listeners.get(event)?.delete(cb);
  }
  /** @param {string} event @param {...unknown} args */
  emit(event, ...args) {
    for (const cb of [...(this.listeners.get(event) ?? [])]) cb(...args);
  }
  /** @param {any} content @param {unknown} _callbacks @param {unknown} buffers */
  send(content, _callbacks, buffers) {
    this.sent.push({ content, buffers });
  }
  save_changes() {}
  listenerCount() {
    let count = 0;
    for (const set of this.listeners.values()) count += set.size;
    return count;
  }
}

/** A finished job's traits, as the kernel sends them. */
export function doneState() {
  return {
    local_id: "j1",
    state: "done",
    status_text: "Done in 2:41",
    prompt: "Sunset at the beach, golden sunlight on the sea",
    progress: 100,
    eta_seconds: null,
    submitted_at: 1000,
    started_at: 1001,
    finished_at: 1161,
    kernel_time: 1161,
    cost_estimate: 0.26,
    params: { resolution: "720p", aspect_ratio: "16:9", duration: 5, audio: true, seed: 1234 },
    task_id: "task_vid_xyz",
    error: "",
    error_code: "",
    video: {
      width: 1280,
      height: 720,
      fps: 24,
      duration: 5,
      size: 4,
      sha256: "ab12",
      file_name: "ab12-sunset.mp4",
      path: "seedance_outputs/videos/ab12-sunset.mp4",
    },
    provenance: { model: "doubao-seedance-1-5-pro", seed: 1234, package_version: "0.1.0" },
    from_cache: false,
    reconnecting: false,
    embed: false,
    video_bytes: null,
    callback_error: "",
  };
}

/** A running job's traits. */
export function runningState() {
  return {
    ...doneState(),
    state: "running",
    status_text: "Generating · 42%",
    progress: 42,
    eta_seconds: 70,
    finished_at: null,
    kernel_time: 1052,
    video: null,
  };
}
