import type { UiError } from './errors';

/** A refused HTTP request, with the `{ ok: false, error }` body's code and message. */
export class HttpRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * `GET /api/sessions/:id/results.csv` with the user's token: the CSV's text, or an
 * {@link HttpRefusal} carrying the server's error (a plain `HTTP <status>` one if the body is
 * not the API's error shape).
 */
export async function fetchResultsCsv(
  url: string,
  token: string,
  sessionId: string,
  fetchImpl: typeof fetch = fetch,
): Promise<string> {
  const res = await fetchImpl(`${url}/api/sessions/${encodeURIComponent(sessionId)}/results.csv`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.ok) return res.text();
  let error: Partial<UiError> | undefined;
  try {
    error = ((await res.json()) as { error?: Partial<UiError> }).error;
  } catch {
    // not JSON: the status says enough
  }
  throw new HttpRefusal(
    typeof error?.code === 'string' ? error.code : `HTTP_${res.status}`,
    typeof error?.message === 'string' ? error.message : `HTTP ${res.status} ${res.statusText}`,
    typeof error?.retryAfterMs === 'number' ? error.retryAfterMs : undefined,
  );
}

/** A file name for a session's results: its title's letters and digits, then the date. */
export function resultsFileName(title: string, now = new Date()): string {
  const slug = title
    .normalize('NFKD')
    .replace(/[^\w-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return `${slug || 'session'}-results-${now.toISOString().slice(0, 10)}.csv`;
}
