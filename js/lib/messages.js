// Every custom message kind between a view and its kernel-side widget ({kind: ...} plus fields).
// seedance_widgets/widgets/messages.py names the same constants; both are checked against
// seedance_widgets/widgets/contract.json, and no other source file spells a kind.

// ---- every widget ----
/** page -> kernel: stop watching a job ({kind} for a JobView, {kind, id} for the form) */
export const MSG_CANCEL = "cancel";
/** page -> kernel: send me a job's MP4 ({kind, id}; {kind, id, job} for a widget of several jobs) */
export const MSG_VIDEO_REQUEST = "video-request";
/** kernel -> page: {kind, id, chunk, chunks, size, mime, sha256} + 1 buffer per chunk, or {kind, id, error} */
export const MSG_VIDEO_RESPONSE = "video-response";
/** page -> kernel: the user confirmed "Generate again (paid)": same settings, new seed, new task ({kind, id}) */
export const MSG_GENERATE_AGAIN = "generate-again";
/** page -> kernel: send me a job's saved last frame ({kind, id}; {kind, id, job} for a widget of several jobs) */
export const MSG_LAST_FRAME_REQUEST = "last-frame-request";
/** kernel -> page: {kind, id, ok, mime} + 1 buffer (the image) when ok, else {kind, id, ok, error} */
export const MSG_LAST_FRAME_RESPONSE = "last-frame-response";
/** page -> kernel: the user confirmed "Continue from here (paid)": a new job from this job's last frame ({kind, id}) */
export const MSG_CONTINUE = "continue-from-here";

// ---- the form ----
/** page -> kernel: submit what the page shows ({kind, seq, params}) */
export const MSG_GENERATE = "generate";
/** page -> kernel: an image {kind, role, id, name, size} + 1 buffer, or {kind, role, id, url} */
export const MSG_ADD_IMAGE = "add-image";
/** kernel -> page: {kind, id, ok, error?}, the answer to one add-image by the page's id */
export const MSG_ADD_IMAGE_RESPONSE = "add-image-response";
/** page -> kernel: {kind, id} */
export const MSG_REMOVE_IMAGE = "remove-image";
/** page -> kernel: an image's bytes for its thumbnail {kind, id} */
export const MSG_IMAGE_REQUEST = "image-request";
/** kernel -> page: {kind, id, ok, mime} + 1 buffer when ok */
export const MSG_IMAGE_RESPONSE = "image-response";
/** page -> kernel: put a history card's settings back into the form {kind, id, seq} */
export const MSG_REUSE_SETTINGS = "reuse-settings";
/** page -> kernel: show two history cards side by side {kind, ids} */
export const MSG_COMPARE = "compare";
/** page -> kernel: close the side-by-side view */
export const MSG_COMPARE_CLOSE = "compare-close";
