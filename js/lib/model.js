// The part of an anywidget model the views use (types only).

/**
 * The model as anywidget hands it to render().
 * @typedef {Object} AnyModel
 * @property {(name: string) => any} get
 * @property {(name: string, value: unknown) => void} set
 * @property {(event: string, cb: (...args: any[]) => void) => void} on
 * @property {(event: string, cb: (...args: any[]) => void) => void} off
 * @property {(content: object, callbacks?: unknown, buffers?: ArrayBuffer[]) => void} send
 * @property {() => void} save_changes
 */

export {};
