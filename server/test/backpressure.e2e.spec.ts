import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startRun, startStack, type Stack, type StartedRun } from './harness.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    name: 'backpressure',
    redisDb: 11,
    // One slot; runs are assumed to take 1 s until measured: the third waiting run would
    // wait > 2.5 s, so it is refused.
    gatewayEnv: { BUSY_WAIT_MS: '2500' },
    workerEnv: { WORKER_CONCURRENCY: '1' },
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

it('refuses new runs with BUSY and retryAfterMs when the expected queue wait is too long', async () => {
  const sockets = await Promise.all(
    ['b1', 'b2', 'b3', 'b4', 'b5'].map(async (n) => stack.connect(await stack.token(n))),
  );
  const slow = { language: 'python', source: 'import time\ntime.sleep(2)' };
  const started: StartedRun[] = [];
  let busy: { code: string; retryAfterMs?: number; details?: unknown } | null = null;
  for (const s of sockets) {
    const r = await startRun(s, slow);
    if (r.ack.ok) started.push(r);
    else {
      busy = r.ack.error;
      break;
    }
  }
  expect(busy).toMatchObject({ code: 'BUSY' });
  expect(busy!.retryAfterMs).toBeGreaterThanOrEqual(1000);
  expect(started.length).toBeGreaterThanOrEqual(1);
  expect(started.length).toBeLessThan(5);
  // The admitted runs are not affected, and once the queue drained, runs are accepted again.
  for (const r of started) expect((await r.done(60_000)).finished.verdict).toBe('OK');
  const later = await startRun(sockets[4], { language: 'python', source: 'print(1)' });
  expect(later.ack.ok).toBe(true);
  await later.done(30_000);
  sockets.forEach((s) => s.disconnect());
}, 120_000);
