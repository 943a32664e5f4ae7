import { CoderoomError } from '@coderoom/contracts';

/** What a client is told to wait before retrying while Redis or MongoDB is unreachable. */
const RETRY_AFTER_MS = 2000;

/**
 * Errors that mean a store (Redis, MongoDB) is unreachable for now rather than a bug: ioredis
 * gives up on a command after its retries (the gateway's connections fail fast on purpose),
 * or the MongoDB driver finds no server. Matched by name and message, as the drivers throw
 * plain errors for these.
 */
const UNREACHABLE = [
  /^MaxRetriesPerRequestError$/,
  /^MongoServerSelectionError$/,
  /^MongoNetworkError$/,
  /^MongoNotConnectedError$/,
  /^MongoPoolClearedError$/,
];
const UNREACHABLE_MESSAGES = [
  /Connection is closed/i,
  /Stream isn't writeable/i,
  /ECONNREFUSED|ECONNRESET|EPIPE/,
  /buffering timed out/i,
  /Reached the max retries per request limit/i,
];

/**
 * `BUSY` with `retryAfterMs` (details.reason "unavailable") for an outage of Redis or MongoDB,
 * so clients back off and retry like they do for a full queue; null for any other error.
 */
export function unavailable(err: unknown): CoderoomError | null {
  if (!(err instanceof Error)) return null;
  const byName = UNREACHABLE.some((re) => re.test(err.name));
  const byMessage = UNREACHABLE_MESSAGES.some((re) => re.test(err.message));
  if (!byName && !byMessage) return null;
  return new CoderoomError('BUSY', 'the service is briefly unavailable; try again shortly', {
    retryAfterMs: RETRY_AFTER_MS,
    details: { reason: 'unavailable' },
  });
}
