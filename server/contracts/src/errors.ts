/** Error codes every acknowledgement and HTTP error can carry (API.md, "Acknowledgements and errors"). */
export const ERROR_CODES = [
  'UNAUTHORIZED',
  'FORBIDDEN',
  'INVALID',
  'NOT_FOUND',
  'TOO_LARGE',
  'UNSUPPORTED_LANGUAGE',
  'RATE_LIMITED',
  'BUSY',
  'CONFLICT',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ApiError {
  code: ErrorCode;
  message: string;
  retryAfterMs?: number;
  details?: unknown;
}

export type AckOk<T> = { ok: true } & T;
export interface AckErr {
  ok: false;
  error: ApiError;
}
export type Ack<T> = AckOk<T> | AckErr;
export type AckFn<T> = (response: Ack<T>) => void;

/** Thrown inside the server and worker; translated into `{ ok: false, error }` at the edge. */
export class CoderoomError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { retryAfterMs?: number; details?: unknown } = {},
  ) {
    super(message);
    this.name = 'CoderoomError';
  }

  toApiError(): ApiError {
    return { code: this.code, message: this.message, ...this.extra };
  }
}
