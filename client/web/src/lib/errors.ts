/** An error to show: a server ack error (`{ code, message, details? }`) or a client-side one. */
export interface UiError {
  code: string;
  message: string;
  details?: unknown;
  retryAfterMs?: number;
}

/** What the page says about an error: a headline a student understands, and what to do. */
export interface ErrorExplanation {
  title: string;
  hint: string;
  /** Show a countdown from `retryAfterMs`; Run waits for it. */
  countdown: boolean;
}

/**
 * Headlines for the API's error codes (API.md) and the SDK's own. The server's `message` is
 * shown under the headline, so nothing it says is lost.
 */
const EXPLAINED: Record<string, ErrorExplanation> = {
  RATE_LIMITED: {
    title: 'Too many requests',
    hint: 'You are sending requests faster than allowed. Wait for the countdown.',
    countdown: true,
  },
  BUSY: {
    title: 'The service is busy',
    hint: 'Many programs are waiting to run. Try again when the countdown ends.',
    countdown: true,
  },
  FORBIDDEN: {
    title: 'Not allowed',
    hint: 'Your account may not do this.',
    countdown: false,
  },
  TOO_LARGE: {
    title: 'Too large',
    hint: 'The program or its input is over the size limit. Make it smaller.',
    countdown: false,
  },
  CONFLICT: {
    title: 'Not possible any more',
    hint: 'The run or session has already ended (a closed session takes no new runs).',
    countdown: false,
  },
  INVALID: {
    title: 'The request was refused',
    hint: 'Something in it is not valid:',
    countdown: false,
  },
  UNSUPPORTED_LANGUAGE: {
    title: 'Language not available',
    hint: 'Pick another language.',
    countdown: false,
  },
  NOT_FOUND: { title: 'Not found', hint: 'It may have expired.', countdown: false },
  UNAUTHORIZED: {
    title: 'Not signed in',
    hint: 'Getting a new token and reconnecting.',
    countdown: false,
  },
  INTERNAL: {
    title: 'Server error',
    hint: 'Something went wrong on our side. Try again.',
    countdown: false,
  },
  TIMEOUT: {
    title: 'No answer from the server',
    hint: 'It may still have been done. Check your connection and try again.',
    countdown: false,
  },
  DISCONNECTED: {
    title: 'Connection lost',
    hint: 'The connection dropped before the server answered. Try again once reconnected.',
    countdown: false,
  },
  CONNECTION_FAILED: {
    title: 'Cannot reach the server',
    hint: 'Check your connection.',
    countdown: false,
  },
  CLOSED: { title: 'Connection closed', hint: 'Reload the page.', countdown: false },
};

export function explain(e: UiError): ErrorExplanation {
  return EXPLAINED[e.code] ?? { title: 'Something went wrong', hint: '', countdown: false };
}

/** Readable lines for an error's `details` (zod issues for INVALID, or anything else). */
export function detailLines(details: unknown): string[] {
  if (details === undefined || details === null) return [];
  const items = Array.isArray(details) ? details : [details];
  return items.map((d) => {
    if (typeof d === 'string') return d;
    if (d && typeof d === 'object' && 'message' in d) {
      const { message, path } = d as { message: unknown; path?: unknown };
      const where = Array.isArray(path) && path.length ? `${path.join('.')}: ` : '';
      return `${where}${String(message)}`;
    }
    return JSON.stringify(d);
  });
}

/** Any thrown value as a UiError (a CoderoomError keeps its code, details and retryAfterMs). */
export function toUiError(e: unknown, code = 'CLIENT'): UiError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const {
      code: c,
      message,
      details,
      retryAfterMs,
    } = e as { code: unknown; message: unknown; details?: unknown; retryAfterMs?: unknown };
    if (typeof c === 'string' && typeof message === 'string') {
      return {
        code: c,
        message,
        ...(details === undefined ? {} : { details }),
        ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}),
      };
    }
  }
  return { code, message: e instanceof Error ? e.message : String(e) };
}
