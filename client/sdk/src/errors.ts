import type { ApiError, ErrorCode } from '@coderoom/contracts';

/**
 * Codes of errors the SDK raises itself, never sent by the server:
 * - `TIMEOUT`: no acknowledgement within `ackTimeoutMs` (a {@link CoderoomTimeoutError}); the
 *   request may or may not have been carried out.
 * - `DISCONNECTED`: the connection was lost before the acknowledgement arrived; the request
 *   may or may not have been carried out.
 * - `CONNECTION_FAILED`: the server could not be reached, or `getToken` failed.
 * - `CLOSED`: the client was closed (`client.close()`), or the run was unwatched.
 */
export const CLIENT_ERROR_CODES = [
  'TIMEOUT',
  'DISCONNECTED',
  'CONNECTION_FAILED',
  'CLOSED',
] as const;
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

/** Every code a {@link CoderoomError} can carry: the API's error codes plus the SDK's own. */
export type CoderoomErrorCode = ErrorCode | ClientErrorCode;

export interface CoderoomErrorOptions {
  retryAfterMs?: number;
  details?: unknown;
  cause?: unknown;
}

/**
 * The one error type the SDK throws and rejects with.
 *
 * `source` says where it comes from: `'server'` for an `{ ok: false, error }` acknowledgement
 * or a refused connection (`code` is one of the API's `ErrorCode`s: `INVALID`, `NOT_FOUND`,
 * `RATE_LIMITED`…), `'client'` for the SDK's own codes ({@link ClientErrorCode}).
 */
export class CoderoomError extends Error {
  readonly code: CoderoomErrorCode;
  /** Set on `RATE_LIMITED` and `BUSY`: wait this long before trying again. */
  readonly retryAfterMs?: number;
  /** For `INVALID`, which fields failed validation (`[{ path, message }]`); otherwise free-form. */
  readonly details?: unknown;
  readonly source: 'server' | 'client';

  constructor(
    code: CoderoomErrorCode,
    message: string,
    options: CoderoomErrorOptions = {},
    source: 'server' | 'client' = isClientCode(code) ? 'client' : 'server',
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CoderoomError';
    this.code = code;
    this.source = source;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.details !== undefined) this.details = options.details;
  }

  /** The error of an `{ ok: false, error }` acknowledgement or HTTP response. */
  static fromApi(error: ApiError): CoderoomError {
    const e = (error ?? {}) as Partial<ApiError>;
    const code = typeof e.code === 'string' ? e.code : 'INTERNAL';
    const message = typeof e.message === 'string' ? e.message : `request failed (${code})`;
    return new CoderoomError(
      code,
      message,
      {
        retryAfterMs: typeof e.retryAfterMs === 'number' ? e.retryAfterMs : undefined,
        details: e.details,
      },
      'server',
    );
  }

  /** The `{ code, message, retryAfterMs?, details? }` shape of the API. */
  toJSON(): { code: CoderoomErrorCode; message: string; retryAfterMs?: number; details?: unknown } {
    return {
      code: this.code,
      message: this.message,
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** No acknowledgement arrived in time. `code` is `TIMEOUT`; `event` is what was sent. */
export class CoderoomTimeoutError extends CoderoomError {
  constructor(
    readonly event: string,
    readonly timeoutMs: number,
  ) {
    super('TIMEOUT', `no answer to "${event}" within ${timeoutMs} ms`);
    this.name = 'CoderoomTimeoutError';
  }
}

export function isClientCode(code: string): code is ClientErrorCode {
  return (CLIENT_ERROR_CODES as readonly string[]).includes(code);
}

/** Any thrown value as a CoderoomError (`fallback` code for foreign errors). */
export function toCoderoomError(
  e: unknown,
  fallback: CoderoomErrorCode = 'INTERNAL',
): CoderoomError {
  if (e instanceof CoderoomError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new CoderoomError(fallback, message, { cause: e });
}
