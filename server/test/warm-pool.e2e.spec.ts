import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import {
  REPO,
  dockerAnswers,
  dockerRestartable,
  startRun,
  startStack,
  stopDocker,
  text,
  until,
  withLogs,
  type ClientSocket,
  type Stack,
} from './harness.js';

let stack: Stack;
let s: ClientSocket;
const POOL = 2;

beforeAll(async () => {
  stack = await startStack({
    name: 'warm-pool',
    redisDb: 12,
    // Python's pool is filled at start-up; other languages' on their first run.
    workerEnv: {
      WARM_POOL_SIZE: String(POOL),
      WORKER_CONCURRENCY: '1',
      WARM_POOL_LANGUAGES: 'python',
    },
  });
  s = await stack.connect(await stack.token('warm'));
}, 90_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

/** The worker's sandboxes (`running`: only those still running). */
const workerContainers = (running = false) =>
  execFileSync('docker', [
    'ps',
    running ? '-q' : '-aq',
    '--filter',
    'label=coderoom.worker=test-warm-pool',
  ])
    .toString()
    .trim()
    .split('\n')
    .filter(Boolean);
const warmGauge = async () => {
  const m = await (await fetch(`${stack.workerUrl()}/metrics`)).text();
  return Number(/^coderoom_warm_pool_size (\d+)/m.exec(m)?.[1] ?? -1);
};

it("fills WARM_POOL_LANGUAGES' pools at start-up: the first run after a restart is warm", async () => {
  // Before any run: the worker started Python's sandboxes by itself.
  await until(
    'the pool to be filled at start-up',
    async () => (await warmGauge()) === POOL,
    30_000,
  );
  const pooled = workerContainers();
  expect(pooled).toHaveLength(POOL);
  // A container's host name is its short id (`docker ps -q`): the program names its sandbox.
  const run = await (
    await startRun(s, { language: 'python', source: 'import socket\nprint(socket.gethostname())' })
  ).done(30_000);
  expect(run.finished.verdict).toBe('OK');
  expect(pooled).toContain(text(run.outputs).trim());
}, 60_000);

it('refuses to start with a WARM_POOL_LANGUAGES entry that is not a language here, naming it', () => {
  // Its own Redis database: a worker that gets as far as start-up must not take this file's runs.
  const redis = new URL(stack.redisUrl);
  redis.pathname = '/25';
  const start = (languages: string) =>
    spawnSync('node', ['worker/dist/src/main.js'], {
      cwd: REPO,
      env: {
        ...process.env,
        REDIS_URL: redis.toString(),
        WORKER_ID: 'test-warm-pool-typo',
        WORKER_HTTP_PORT: '0',
        WORKER_HTTP_HOST: '127.0.0.1',
        WARM_POOL_SIZE: '1',
        WARM_POOL_LANGUAGES: languages,
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
  const typo = start('python,pyhton');
  expect(typo.status).toBe(1);
  expect(typo.stderr).toContain('WARM_POOL_LANGUAGES: not installed here: pyhton');
  const garbage = start('python;rm -rf /');
  expect(garbage.status).toBe(1);
  expect(garbage.stderr).toContain('WARM_POOL_LANGUAGES');
  // Neither started a sandbox (python is valid, but nothing starts before every id is checked).
  expect(
    execFileSync('docker', ['ps', '-aq', '--filter', 'label=coderoom.worker=test-warm-pool-typo'])
      .toString()
      .trim(),
  ).toBe('');
}, 120_000);

it('runs programs in pre-started sandboxes, each used once, and keeps the pool full', async () => {
  const probe = {
    language: 'python',
    source:
      'import os\nprint("seen" if os.path.exists("/box/marker") else "fresh")\nopen("/box/marker", "w").write("x")\n',
  };
  // Every run takes a warm sandbox (used once), and the pool refills behind it.
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

const notRestartable = dockerRestartable();
if (notRestartable) console.warn(`warm pool Docker restart test skipped: ${notRestartable}`);

(notRestartable ? it.skip : it)(
  'replaces the pooled sandboxes that died in a Docker restart once the engine answers, before any run asks',
  withLogs(
    () => stack,
    async () => {
      await until('the pool to be full', async () => (await warmGauge()) === POOL, 20_000);
      const before = workerContainers();
      expect(before).toHaveLength(POOL);
      // dockerd stops (its containers die with it) and the stack of `npm test` starts it again.
      await stopDocker();
      await dockerAnswers();
      const running = () => workerContainers(true);
      await until(
        'new pooled sandboxes, the dead ones gone',
        async () =>
          (await warmGauge()) === POOL &&
          running().length === POOL &&
          running().every((id) => !before.includes(id)) &&
          workerContainers().length === POOL,
        60_000,
      );
      const pooled = running();
      const run = await (
        await startRun(s, {
          language: 'python',
          source: 'import socket\nprint(socket.gethostname())',
        })
      ).done(30_000);
      expect(run.finished.verdict).toBe('OK');
      expect(pooled).toContain(text(run.outputs).trim());
    },
  ),
  180_000,
);

it('removes its pooled sandboxes when the worker stops', async () => {
  await stack.stopWorker('SIGTERM');
  expect(workerContainers()).toEqual([]);
  await stack.startWorker();
}, 60_000);
