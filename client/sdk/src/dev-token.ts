import type { AuthUser, DevTokenRequest } from '@coderoom/contracts';
import { CoderoomError } from './errors.js';

/**
 * Gets a token from `POST /api/auth/dev-token { name, role }` (local/dev mode only; the route
 * does not exist in production, which answers NOT_FOUND). `baseUrl` is the gateway's origin,
 * e.g. `http://localhost:3000`. Failures are thrown as {@link CoderoomError}s.
 */
export async function fetchDevToken(
  baseUrl: string,
  request: DevTokenRequest,
  fetchImpl: typeof fetch = globalThis.fetch,
): Promise<{ token: string; user: AuthUser }> {
  const url = new URL('/api/auth/dev-token', baseUrl).toString();
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(request),
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new CoderoomError('CONNECTION_FAILED', `cannot reach ${url} (${msg})`, { cause: e });
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON; reported below
  }
  const b = body as { ok?: unknown; error?: unknown; token?: unknown; user?: unknown } | null;
  if (!res.ok) {
    if (b && b.ok === false && b.error && typeof b.error === 'object') {
      throw CoderoomError.fromApi(b.error as Parameters<typeof CoderoomError.fromApi>[0]);
    }
    throw new CoderoomError(
      res.status === 404 ? 'NOT_FOUND' : 'INTERNAL',
      res.status === 404
        ? 'dev tokens are not enabled on this server'
        : `POST ${url}: HTTP ${res.status}`,
    );
  }
  if (typeof b?.token !== 'string' || b.token === '') {
    throw new CoderoomError('INTERNAL', 'the dev-token answer has no token', { details: body });
  }
  return { token: b.token, user: b.user as AuthUser };
}
