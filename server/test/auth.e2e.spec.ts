import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { io } from 'socket.io-client';
import { freePort, runToEnd, startStack, text, until, type Stack } from './harness.js';
import { TestIdentityProvider, unsignedToken } from './jwks.js';

// A gateway trusting an identity provider (the test's own JWKS endpoint) as a school would
// configure it, with its metrics on a separate port; the worker and services are real.
const idp = new TestIdentityProvider('https://idp.school.test/', 'coderoom-api');
let stack: Stack;
let metricsPort: number;

beforeAll(async () => {
  await idp.start();
  metricsPort = await freePort();
  stack = await startStack({
    name: 'auth',
    redisDb: 30,
    gatewayEnv: {
      JWT_JWKS_URL: idp.url,
      JWT_ISSUER: idp.issuer,
      JWT_AUDIENCE: idp.audience,
      JWT_ROLE_CLAIM: 'groups',
      JWT_ROLE_MAP: JSON.stringify({ 'cs-teachers': 'instructor', 'cs-students': 'student' }),
      METRICS_PORT: String(metricsPort),
      // A token with a new kid refetches the key set at most this often (default 30 s).
      JWT_JWKS_COOLDOWN_MS: '1000',
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await idp.stop();
}, 30_000);

/** The handshake's answer: 'connected', or the connect_error's message and code. */
async function handshake(token: string): Promise<string> {
  const s = io(stack.url, { auth: { token }, transports: ['websocket'], reconnection: false });
  try {
    return await new Promise<string>((resolve) => {
      s.once('connect', () => resolve('connected'));
      s.once('connect_error', (err: Error & { data?: { code?: string } }) =>
        resolve(`${err.message} ${err.data?.code}`),
      );
    });
  } finally {
    s.disconnect();
  }
}

it('runs a program for a user of the identity provider (RS256 from its key set, role mapped)', async () => {
  const token = await idp.token({ sub: 'school-42', name: 'Grace', groups: ['cs-students'] });
  const s = await stack.connect(token);
  const run = await runToEnd(s, { language: 'python', source: 'print("via jwks")' });
  expect(run.finished.verdict).toBe('OK');
  expect(text(run.outputs, 'stdout')).toBe('via jwks\n');
  s.disconnect();
  // The same token on HTTP, through the route guard.
  const res = await fetch(`${stack.url}/api/runs/${run.runId}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { run: { ownerId: string } }).run.ownerId).toBe('school-42');
}, 60_000);

it('refuses, at connect and on HTTP, a wrong issuer, a wrong audience, an expired token, alg none and an unmapped role', async () => {
  const exp = Math.floor(Date.now() / 1000) + 600;
  const bad = {
    issuer: await idp.token({ groups: ['cs-students'] }, { issuer: 'https://other.test/' }),
    audience: await idp.token({ groups: ['cs-students'] }, { audience: 'another-api' }),
    expired: await idp.token(
      { groups: ['cs-students'] },
      { expiresIn: Math.floor(Date.now() / 1000) - 5 },
    ),
    none: unsignedToken({
      sub: 'x',
      groups: ['cs-teachers'],
      iss: idp.issuer,
      aud: idp.audience,
      exp,
    }),
    role: await idp.token({ groups: ['janitors'] }),
  };
  for (const [what, token] of Object.entries(bad)) {
    expect([what, await handshake(token)]).toEqual([what, 'unauthorized UNAUTHORIZED']);
    const res = await fetch(`${stack.url}/api/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ language: 'python', source: 'print(1)' }),
    });
    expect([
      what,
      res.status,
      ((await res.json()) as { error: { code: string } }).error.code,
    ]).toEqual([what, 401, 'UNAUTHORIZED']);
  }
}, 60_000);

it('accepts the next key after the provider rotates its keys', async () => {
  await idp.rotate();
  const token = await idp.token({ sub: 'school-43', groups: ['cs-teachers'] });
  // Within the cooldown after the last fetch the new kid is not looked up yet; then it is.
  let answer = '';
  await until(
    'the rotated key to be accepted',
    async () => {
      answer = await handshake(token);
      return answer === 'connected';
    },
    10_000,
  );
  expect(answer).toBe('connected');
}, 60_000);

it('serves metrics on METRICS_PORT only; the API port has none without the token', async () => {
  const m = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(m).toMatch(/^coderoom_gateway_sockets \d+/m);
  expect(m).toMatch(/^coderoom_gateway_events_in_total\{event="run:start",outcome="ok"\} [1-9]/m);
  expect((await fetch(`http://127.0.0.1:${metricsPort}/health`)).status).toBe(404);
  expect((await fetch(`${stack.url}/metrics`)).status).toBe(404);
}, 30_000);
