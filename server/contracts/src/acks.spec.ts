import { describe, expect, it } from '@jest/globals';
import type { z } from 'zod';
import { ackSchema, apiErrorSchema, type ackErrSchema } from './acks.js';
import { ERROR_CODES, type Ack, type AckErr, type ApiError } from './errors.js';
import { runStartResultSchema, type RunStartResult } from './runs.js';

/** `true` only when A and B are the same type; checked by `tsc -b server/contracts`. */
type Same<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** `true` when A and B accept the same values (`{ ok: true } & T` is not spelled like zod's). */
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const runStartAck = ackSchema(runStartResultSchema);

// errors.ts declares these types by hand; the schemas must say exactly the same.
const sameTypes: [
  Same<z.output<typeof apiErrorSchema>, ApiError>,
  Same<z.output<typeof ackErrSchema>, AckErr>,
  Mutual<z.output<typeof runStartAck>, Ack<RunStartResult>>,
] = [true, true, true];

describe('acknowledgement schemas', () => {
  it('have the types of errors.ts', () => {
    expect(sameTypes).toEqual([true, true, true]);
  });

  it('accept every error code and nothing else', () => {
    for (const code of ERROR_CODES) {
      expect(apiErrorSchema.safeParse({ code, message: 'm' }).success).toBe(true);
    }
    expect(apiErrorSchema.safeParse({ code: 'OOPS', message: 'm' }).success).toBe(false);
    expect(
      apiErrorSchema.safeParse({ code: 'BUSY', message: 'm', retryAfterMs: 100, details: [1] })
        .success,
    ).toBe(true);
    expect(apiErrorSchema.safeParse({ code: 'BUSY', message: 'm', retryAfterMs: -1 }).success).toBe(
      false,
    );
  });

  it('are { ok: true, ...result } or { ok: false, error }', () => {
    const ack = runStartAck;
    const result = { runId: 'r', status: 'queued', position: 1 };
    expect(ack.safeParse({ ok: true, ...result }).success).toBe(true);
    expect(ack.safeParse({ ok: false, error: { code: 'INVALID', message: 'm' } }).success).toBe(
      true,
    );
    expect(ack.safeParse({ ok: true }).success).toBe(false);
    expect(ack.safeParse({ ok: false, ...result }).success).toBe(false);
    expect(ack.safeParse(result).success).toBe(false);
  });
});
