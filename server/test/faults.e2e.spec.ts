import { afterAll, beforeAll, expect, it } from '@jest/globals';
import {
  containersOf,
  gatewayMetrics,
  TEST_METRICS_TOKEN,
  startRun,
  startStack,
  text,
  until,
  type ExitStatus,
  type Stack,
} from './harness.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    name: 'faults',
    redisDb: 10,
    gateways: 2,
    workerEnv: { WORKER_CONCURRENCY: '1', RUN_WALL_MS: '10000' },
  });
}, 90_000);

afterAll(async () => {
  if (process.env.DEBUG_LOGS) console.log(stack?.logs());
  await stack?.stop();
}, 30_000);

/** Ended by its own shutdown (exit 0, or the re-raised SIGTERM), not killed. */
const cleanExit = (e: ExitStatus) => e.code === 0 || (e.code === null && e.signal === 'SIGTERM');

it('serves Prometheus metrics on the gateway and on the worker', async () => {
  const s = await stack.connect(await stack.token('metrics'));
  await (await startRun(s, { language: 'python', source: 'print("m")' })).done();
  // Public API port: no token, no metrics (METRICS_TOKEN is set in the harness).
  expect((await fetch(`${stack.url}/metrics`)).status).toBe(404);
  const wrong = { headers: { authorization: `Bearer ${'x'.repeat(TEST_METRICS_TOKEN.length)}` } };
  expect((await fetch(`${stack.url}/metrics`, wrong)).status).toBe(404);
  const gw = await gatewayMetrics(stack.url);
  expect(gw).toMatch(/^coderoom_gateway_sockets \d+/m);
  expect(gw).toMatch(/^coderoom_runs_admitted_total\{language="python"\} \d+/m);
  expect(gw).toMatch(/^coderoom_gateway_events_in_total\{event="run:start",outcome="ok"\} \d+/m);
  expect(gw).toMatch(/^coderoom_queue_waiting \d+/m);
  const wk = await (await fetch(`${stack.workerUrl()}/metrics`)).text();
  expect(wk).toMatch(/^coderoom_runs_finished_total\{language="python",verdict="OK"\} [1-9]/m);
  expect(wk).toMatch(/^coderoom_time_to_first_output_seconds_count\{language="python"\} [1-9]/m);
  expect(wk).toMatch(/^coderoom_queue_wait_seconds_count [1-9]/m);
  expect(await (await fetch(`${stack.workerUrl()}/ready`)).json()).toEqual({
    status: 'ready',
    checks: { redis: true, database: true, docker: true },
  });
  s.disconnect();
}, 60_000);

it('ends a run as SE with run:finished when its worker is SIGKILLed, and reaps its container', async () => {
  const s = await stack.connect(await stack.token('victim'));
  const run = await startRun(s, {
    language: 'python',
    source: 'import time\nfor i in range(100):\n    print(i, flush=True)\n    time.sleep(0.1)\n',
  });
  await until('output before the kill', () => run.outputs.length >= 3, 20_000);
  const before = text(run.outputs);
  await stack.stopWorker('SIGKILL');
  await stack.startWorker(); // a worker must be alive to reap (any worker does it)
  const done = await run.done(30_000);
  expect(done.finished.verdict).toBe('SE');
  expect(text(done.outputs).startsWith(before)).toBe(true);
  // The restarted worker (same WORKER_ID) removes the dead one's sandbox.
  await until('the orphaned container to be removed', () => containersOf(run.runId) === '', 20_000);
  // And the stored run says so too.
  const watch = await s.emitWithAck('run:watch', { runId: run.runId, afterSeq: 0 });
  expect(watch).toMatchObject({ ok: true, run: { status: 'finished', result: { verdict: 'SE' } } });
  // The service keeps working.
  const after = await startRun(s, { language: 'python', source: 'print("alive")' });
  expect(text((await after.done(30_000)).outputs)).toBe('alive\n');
  s.disconnect();
}, 90_000);

it('lets a worker finish its in-flight run on SIGTERM and leaves queued runs for the next worker', async () => {
  const s = await stack.connect(await stack.token('graceful'));
  const t = await stack.connect(await stack.token('graceful-2'));
  const busy = await startRun(s, {
    language: 'python',
    source: 'import time\nfor i in range(10):\n    print(i, flush=True)\n    time.sleep(0.1)\n',
  });
  await until('the first run to be running', () => busy.outputs.length > 0, 20_000);
  const queued = await startRun(t, { language: 'python', source: 'print("later")' });
  const exit = stack.stopWorker('SIGTERM');
  const first = await busy.done(30_000);
  expect(first.finished.verdict).toBe('OK');
  expect(text(first.outputs)).toBe([...Array(10).keys()].map((i) => `${i}\n`).join(''));
  expect(cleanExit(await exit)).toBe(true);
  await stack.startWorker();
  const second = await queued.done(30_000);
  expect(second.finished.verdict).toBe('OK');
  expect(text(second.outputs)).toBe('later\n');
  s.disconnect();
  t.disconnect();
}, 90_000);

it('on gateway SIGTERM closes transports (clients reconnect elsewhere) and exits cleanly', async () => {
  const token = await stack.token('drained');
  const s = await stack.connect(token, { url: stack.urls[1] });
  const run = await startRun(s, {
    language: 'python',
    source: 'import time\nfor i in range(20):\n    print(i, flush=True)\n    time.sleep(0.1)\n',
  });
  await until('output', () => run.outputs.length >= 2, 20_000);
  let reason = '';
  s.on('disconnect', (r) => (reason = r));
  expect(cleanExit(await stack.stopGateway(1, 'SIGTERM'))).toBe(true);
  // "transport close" makes socket.io clients reconnect by themselves; a server disconnect would not.
  await until('the client to see the disconnect', () => reason !== '', 5000);
  expect(reason).toBe('transport close');
  const other = await stack.connect(token, { url: stack.urls[0] });
  const held = run.outputs[run.outputs.length - 1].seq;
  const ack = await other.emitWithAck('run:watch', { runId: run.runId, afterSeq: held });
  expect(ack.ok).toBe(true);
  other.disconnect();
}, 60_000);
