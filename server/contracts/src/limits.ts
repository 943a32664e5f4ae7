/**
 * Hard limits on what a client may send. They are part of the public contract (documented in
 * the AsyncAPI document and the README) so that SDKs can check before sending.
 */
export const PAYLOAD_LIMITS = {
  /** Total bytes of `source` or of all `files[].content` together. */
  sourceBytes: 256 * 1024,
  /** Bytes of `stdin` (and of one `run:input` message). */
  stdinBytes: 64 * 1024,
  /** Bytes of all `run:input` data of one run together (TOO_LARGE past it). */
  inputBytesPerRun: 1024 * 1024,
  /** Number of entries in `files`. */
  files: 32,
  /** Characters of one file path. */
  pathLength: 128,
  /** Directory depth of one file path. */
  pathDepth: 6,
  /** Largest socket.io message the server accepts (engine.io maxHttpBufferSize). */
  messageBytes: 1024 * 1024,
} as const;
