// Base64 for the binary payloads of the shared document (Yjs updates, awareness, state vectors).
// `btoa`/`atob` exist in browsers and in Node 16+, so the SDK needs no Buffer.

/** Bytes per `String.fromCharCode` call: large enough to be fast, small enough for the stack. */
const CHUNK = 0x8000;

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/** Throws a `TypeError` on input that is not base64. */
export function fromBase64(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch (e) {
    throw new TypeError('not base64', { cause: e });
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
