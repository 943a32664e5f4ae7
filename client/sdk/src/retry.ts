import type { CoderoomError } from './errors.js';

/**
 * Codes after which a request is worth sending again on the same connection: no answer in
 * time, a server-side failure, or the server asking to slow down (`retryAfterMs`).
 * `DISCONNECTED` is not here: the reconnect resends what needs it.
 */
const RETRYABLE = new Set(['TIMEOUT', 'INTERNAL', 'BUSY', 'RATE_LIMITED']);

export function isRetryable(err: CoderoomError): boolean {
  return RETRYABLE.has(err.code);
}

/** Delay before retry number `attempt` (0-based): 0.5 s doubling up to 10 s, never below `retryAfterMs`. */
export function retryDelayMs(err: CoderoomError, attempt: number): number {
  return Math.max(err.retryAfterMs ?? 0, Math.min(10_000, 500 * 2 ** attempt));
}
