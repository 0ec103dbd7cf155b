// Custom message kinds between a view and its kernel-side widget. The Python side names the same
// strings in seedance_widgets/widgets/job_view.py (MSG_*): change both together.

/** front-end -> kernel: stop watching the job */
export const MSG_CANCEL = "cancel";
/** front-end -> kernel: send me the MP4 bytes ({kind, id}) */
export const MSG_VIDEO_REQUEST = "video-request";
/** kernel -> front-end: one chunk of the MP4 ({kind, id, chunk, chunks, size, mime} + 1 buffer), or {kind, id, error} */
export const MSG_VIDEO_RESPONSE = "video-response";
