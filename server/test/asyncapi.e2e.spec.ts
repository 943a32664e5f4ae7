import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Parser } from '@asyncapi/parser';
import { buildAsyncApiDocument, CLIENT_EVENTS, SERVER_EVENTS } from '@coderoom/contracts';
import { startStack, type Stack } from './harness.js';

/** Spectral severity 0: an error (1 warning, 2 information, 3 hint). */
const isError = (d: { severity: number }) => d.severity === 0;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ name: 'asyncapi', redisDb: 4 });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

it('serves the AsyncAPI document generated from the contracts at GET /asyncapi.json', async () => {
  const res = await fetch(`${stack.url}/asyncapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const served: unknown = await res.json();
  expect(served).toEqual(JSON.parse(JSON.stringify(buildAsyncApiDocument())));

  // What a third party would do with it: parse it and find every event.
  const { document, diagnostics } = await new Parser().parse(JSON.stringify(served));
  expect(diagnostics.filter(isError)).toEqual([]);
  const addresses = document
    ?.channels()
    .all()
    .map((c) => c.address());
  expect(addresses).toEqual(expect.arrayContaining([...CLIENT_EVENTS, ...SERVER_EVENTS]));
});

it('is public: no token needed, a bogus one ignored', async () => {
  const res = await fetch(`${stack.url}/asyncapi.json`, { headers: { authorization: 'Bearer x' } });
  expect(res.status).toBe(200);
});
