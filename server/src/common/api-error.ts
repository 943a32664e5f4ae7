import { HttpException } from '@nestjs/common';
import { CoderoomError, type ApiError, type ErrorCode } from '@coderoom/contracts';
import { unavailable } from './unavailable.js';

/** The HTTP status of each error code (HTTP answers carry the same body as socket acks). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  INVALID: 400,
  NOT_FOUND: 404,
  TOO_LARGE: 413,
  UNSUPPORTED_LANGUAGE: 400,
  RATE_LIMITED: 429,
  BUSY: 503,
  CONFLICT: 409,
  INTERNAL: 500,
};

/**
 * What an error becomes at the edge: `known` (a CoderoomError: the client's fault or a refusal,
 * answered as it is), `outage` (Redis or MongoDB unreachable: BUSY with retryAfterMs, worth a
 * warning), `internal` (a bug: INTERNAL, logged with its stack, counted).
 */
export interface Translated {
  error: ApiError;
  status: number;
  kind: 'known' | 'outage' | 'internal';
}

/**
 * The one translator from thrown errors to the API's error shape, used by socket acks
 * (gateways/client-events.ts) and HTTP answers (controllers/error.filter.ts) alike.
 */
export function translateError(err: unknown): Translated {
  if (err instanceof CoderoomError) {
    return { error: err.toApiError(), status: HTTP_STATUS[err.code], kind: 'known' };
  }
  const outage = unavailable(err);
  if (outage) return { error: outage.toApiError(), status: HTTP_STATUS.BUSY, kind: 'outage' };
  if (err instanceof HttpException) {
    // Nest's own refusals (an unknown route, a body over the parser's limit, a malformed body).
    const status = err.getStatus();
    const code: ErrorCode = status === 404 ? 'NOT_FOUND' : status === 413 ? 'TOO_LARGE' : 'INVALID';
    if (status < 500) return { error: { code, message: err.message }, status, kind: 'known' };
  }
  return {
    error: { code: 'INTERNAL', message: 'internal error' },
    status: HTTP_STATUS.INTERNAL,
    kind: 'internal',
  };
}
