import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startRun, startStack, text, until, type ClientSocket, type Stack } from './harness.js';

let stack: Stack;
let s: ClientSocket;
const POOL = 2;

beforeAll(async () => {
  stack = await startStack({
    name: 'warm-pool',
    redisDb: 12,
    workerEnv: { WARM_POOL_SIZE: String(POOL), WORKER_CONCURRENCY: '1' },
  });
  s = await stack.connect(await stack.token('warm'));
}, 90_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

const workerContainers = () =>
  execFileSync('docker', ['ps', '-aq', '--filter', 'label=coderoom.worker=test-warm-pool'])
    .toString()
    .trim()
    .split('\n')
    .filter(Boolean);
const warmGauge = async () => {
  const m = await (await fetch(`${stack.workerUrl()}/metrics`)).text();
  return Number(/^coderoom_warm_pool_size (\d+)/m.exec(m)?.[1] ?? -1);
};

it('runs programs in pre-started sandboxes, each used once, and keeps the pool full', async () => {
  const probe = {
    language: 'python',
    source:
      'import os\nprint("seen" if os.path.exists("/box/marker") else "fresh")\nopen("/box/marker", "w").write("x")\n',
  };
  // The first run of a kind is cold and fills the pool; the next ones take warm sandboxes.
  for (let i = 0; i < 5; i++) {
    const run = await (await startRun(s, probe)).done(30_000);
    expect(run.finished.verdict).toBe('OK');
    expect(text(run.outputs)).toBe('fresh\n'); // never a sandbox another run used
  }
  await until('the pool to be full again', async () => (await warmGauge()) === POOL, 20_000);
  // Only the pool's sandboxes remain: every used one was removed.
  await until('used sandboxes to be removed', () => workerContainers().length === POOL, 20_000);
}, 120_000);

it('still enforces the limits in a warm sandbox', async () => {
  const run = await (
    await startRun(s, { language: 'python', source: 'while True: pass' })
  ).done(30_000);
  expect(run.finished.verdict).toBe('TLE');
}, 30_000);

it('takes a pre-started sandbox: one of the pooled containers serves the run', async () => {
  await until('the pool to be full', async () => (await warmGauge()) === POOL, 20_000);
  // The last run's sandbox is removed a moment after it (not while a run starts).
  await until('used sandboxes to be removed', () => workerContainers().length === POOL, 20_000);
  const pooled = workerContainers();
  expect(pooled).toHaveLength(POOL);
  // A container's host name is its short id (`docker ps -q`): the program names its sandbox.
  const run = await (
    await startRun(s, { language: 'python', source: 'import socket\nprint(socket.gethostname())' })
  ).done(30_000);
  const servedBy = text(run.outputs).trim();
  expect(pooled).toContain(servedBy);
  await until(
    'the used sandbox to be removed',
    () => !workerContainers().includes(servedBy),
    20_000,
  );
}, 60_000);

it('removes its pooled sandboxes when the worker stops', async () => {
  await stack.stopWorker('SIGTERM');
  expect(workerContainers()).toEqual([]);
  await stack.startWorker();
}, 60_000);
