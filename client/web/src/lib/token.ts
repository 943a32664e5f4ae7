/** `student-1234`: the default display name (4 random digits). */
export function randomStudentName(random: () => number = Math.random): string {
  return `student-${String(Math.floor(random() * 10000)).padStart(4, '0')}`;
}

/**
 * Gets a token from the local/dev route `POST /api/auth/dev-token` (API.md). It only exists
 * when dev tokens are enabled; any failure is thrown as an Error with a readable message.
 */
export async function fetchDevToken(
  name: string,
  fetchImpl: typeof fetch = fetch,
  url = '/api/auth/dev-token',
): Promise<string> {
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ name, role: 'student' }),
    });
  } catch (e) {
    throw new Error(`cannot reach the server (${e instanceof Error ? e.message : String(e)})`);
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) {
    const message = errorMessage(body) ?? `${res.status} ${res.statusText}`.trim();
    throw new Error(
      res.status === 404 ? `dev tokens are not available here (${message})` : `HTTP ${message}`,
    );
  }
  const token = (body as { token?: unknown } | null)?.token;
  if (typeof token !== 'string' || token === '') {
    throw new Error('the token response has no token');
  }
  return token;
}

function errorMessage(body: unknown): string | null {
  if (!body || typeof body !== 'object') return null;
  const b = body as { message?: unknown; error?: unknown };
  if (typeof b.message === 'string') return b.message;
  if (b.error && typeof b.error === 'object') {
    const e = b.error as { code?: unknown; message?: unknown };
    if (typeof e.message === 'string') {
      return typeof e.code === 'string' ? `${e.message} (${e.code})` : e.message;
    }
  }
  return null;
}
