import { z } from 'zod';
import { ERROR_CODES, type AckErr, type ApiError } from './errors.js';

// Schemas of the acknowledgement envelope (API.md, "Acknowledgements and errors"). The types
// `ApiError`, `AckErr` and `Ack<T>` in errors.ts are checked against them in acks.spec.ts.

export const errorCodeSchema = z
  .enum(ERROR_CODES)
  .describe(
    'What went wrong: `UNAUTHORIZED`, `FORBIDDEN`, `INVALID` (the payload fails validation; ' +
      '`details` says which field), `NOT_FOUND`, `TOO_LARGE`, `UNSUPPORTED_LANGUAGE`, ' +
      '`RATE_LIMITED` (with `retryAfterMs`), `BUSY` (queue backpressure, with `retryAfterMs`), ' +
      '`CONFLICT`, `INTERNAL`.',
  );

export const apiErrorSchema = z
  .object({
    code: errorCodeSchema,
    message: z.string().describe('A human-readable explanation (not meant to be parsed).'),
    retryAfterMs: z
      .number()
      .int()
      .min(0)
      .describe('With `RATE_LIMITED` and `BUSY`: how long to wait before trying again, in ms.')
      .optional(),
    details: z
      .unknown()
      .describe(
        'More about the error. With `INVALID`: a list of `{ path, message }`, one per field ' +
          'at fault (`path` is dot-separated, empty for the payload itself).',
      )
      .optional(),
  })
  .describe('Why a request was refused.') satisfies z.ZodType<ApiError>;

export const ackErrSchema = z
  .object({
    ok: z.literal(false),
    error: apiErrorSchema,
  })
  .describe('The request was refused; nothing happened.') satisfies z.ZodType<AckErr>;

/** `{ ok: true, ...result }`, the positive acknowledgement carrying `result`. */
export function ackOkSchema<Shape extends z.ZodRawShape>(result: z.ZodObject<Shape>) {
  const ok = z.object({ ok: z.literal(true) }).extend(result.shape);
  return result.description === undefined ? ok : ok.describe(result.description);
}

/** `{ ok: true, ...result } | { ok: false, error }`, what every acknowledgement is. */
export function ackSchema<Shape extends z.ZodRawShape>(result: z.ZodObject<Shape>) {
  return z.discriminatedUnion('ok', [ackOkSchema(result), ackErrSchema]);
}

/**
 * What a client's `connect_error` listener gets when the gateway refuses the handshake: the
 * socket.io client passes an `Error` with this `message` and `data`.
 */
export const connectErrorSchema = z
  .object({
    message: z
      .string()
      .describe(
        'The `message` of the `Error`: `unauthorized` for a missing, malformed, expired or ' +
          'wrongly signed token.',
      ),
    data: z
      .object({
        code: errorCodeSchema,
        retryAfterMs: z
          .number()
          .int()
          .min(0)
          .describe('With `BUSY`: when to try again (a reconnect may reach another node).')
          .optional(),
      })
      .describe(
        'The `data` of the `Error`: `{ code: "UNAUTHORIZED" }` for a refused token; ' +
          '`{ code: "BUSY", retryAfterMs }` when the node is shutting down.',
      ),
  })
  .describe('The gateway refused the handshake.');
