import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import mongoose from 'mongoose';
import {
  containersOf,
  dockerAnswers,
  dockerRestartable,
  startRun,
  startStack,
  stopDocker,
  text,
  until,
  withLogs,
  type Stack,
} from './harness.js';

// Restarts of the services under a running system: the database here (a FerretDB of this
// suite's own), Docker's daemon below. Redis restarts are in deploy/test/cluster.e2e.spec.ts.

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    name: 'recovery',
    redisDb: 19,
    ownDatabase: true,
    workerEnv: { WORKER_CONCURRENCY: '2', RUN_WALL_MS: '20000' },
  });
}, 120_000);

afterAll(async () => {
  if (process.env.DEBUG_LOGS) console.log(stack?.logs());
  await stack?.stop();
}, 60_000);

const counting = (tag: string, n: number, gap: number) => ({
  source: `import time\nfor i in range(${n}):\n    print(f"${tag} {i}", flush=True)\n    time.sleep(${gap})\n`,
  expected: Array.from({ length: n }, (_, i) => `${tag} ${i}\n`).join(''),
});

/** True while a container exists (running or not). */
const exists = (id: string): boolean =>
  execFileSync('docker', ['ps', '-aq', '--no-trunc', '--filter', `id=${id}`])
    .toString()
    .trim() !== '';

/** The run as MongoDB stores it (not as the gateway shows it, which prefers Redis). */
async function stored(
  runId: string,
): Promise<{ status: string; result: { verdict: string } | null; output: { data: string }[] }> {
  const conn = await mongoose.createConnection(stack.mongoUri).asPromise();
  try {
    const doc = await conn
      .collection<{ _id: string }>('runs')
      .findOne({ _id: runId }, { projection: { status: 1, result: 1, output: 1 } });
    if (!doc) throw new Error(`run ${runId} is not stored`);
    return doc as unknown as Awaited<ReturnType<typeof stored>>;
  } finally {
    await conn.close();
  }
}

it(
  'recovers from a database restart: a run in flight finishes, its stored copy is written once the database is back, new runs work',
  withLogs(
    () => stack,
    async () => {
      const s = await stack.connect(await stack.token('db-restart'));
      const prog = counting('db', 20, 0.1);
      const run = await startRun(s, { language: 'python', source: prog.source });
      await until('output before the restart', () => run.outputs.length >= 2, 30_000);
      // Down long enough for the run to end meanwhile and for its stored write to give up
      // (the driver buffers writes for 10 s): the reconciler must write it afterwards.
      await stack.restartDatabase(20_000);
      const done = await run.done(60_000);
      expect(done.finished.verdict).toBe('OK');
      expect(text(done.outputs)).toBe(prog.expected);
      // The stored copy catches up without anybody doing anything.
      await until(
        'the stored run to be finished',
        async () => (await stored(run.runId)).status === 'finished',
        40_000,
      );
      const doc = await stored(run.runId);
      expect(doc.result?.verdict).toBe('OK');
      expect(doc.output.map((c) => c.data).join('')).toBe(prog.expected);
      // And the service works again.
      await until('gateway /ready', async () => (await fetch(`${stack.url}/ready`)).ok, 30_000);
      await until('worker /ready', async () => (await fetch(`${stack.workerUrl()}/ready`)).ok);
      const after = await startRun(s, { language: 'python', source: 'print("back")' });
      expect(text((await after.done(30_000)).outputs)).toBe('back\n');
      s.disconnect();
    },
  ),
  180_000,
);

it(
  'removes the sandboxes of a worker that is gone under another WORKER_ID, and only of its own deployment',
  withLogs(
    () => stack,
    async () => {
      const scope = createHash('sha256').update(stack.redisUrl).digest('hex').slice(0, 16);
      const ghost = `ghost-${process.pid}`;
      const sandbox = (labels: string[]) =>
        execFileSync('docker', [
          'run',
          '-d',
          '--network=none',
          ...labels.flatMap((l) => ['--label', l]),
          '--entrypoint',
          'sleep',
          'coderoom-sandbox-base:latest',
          '300',
        ])
          .toString()
          .trim();
      const ours = sandbox([`coderoom.worker=${ghost}`, `coderoom.scope=${scope}`]);
      const elsewhere = sandbox([`coderoom.worker=${ghost}`, 'coderoom.scope=another-deployment']);
      try {
        // Two sweeps 15 s apart: the ghost has no heartbeat on either.
        await until("the gone worker's sandbox to be removed", () => !exists(ours), 60_000);
        expect(exists(elsewhere)).toBe(true);
      } finally {
        execFileSync('docker', ['rm', '-f', ours, elsewhere], { stdio: 'ignore' });
      }
    },
  ),
  90_000,
);

const notRestartable = dockerRestartable();
if (notRestartable) console.warn(`Docker restart test skipped: ${notRestartable}`);

(notRestartable ? it.skip : it)(
  'recovers from a Docker daemon restart: the run in a sandbox ends as SE, runs queued meanwhile wait and then run',
  withLogs(
    () => stack,
    async () => {
      const s = await stack.connect(await stack.token('docker-restart'));
      const prog = counting('dk', 100, 0.1);
      const inFlight = await startRun(s, { language: 'python', source: prog.source });
      await until('output before the restart', () => inFlight.outputs.length >= 2, 30_000);
      const stopped = stopDocker();
      const ready = async () =>
        (await (await fetch(`${stack.workerUrl()}/ready`)).json()) as {
          checks: { docker: boolean };
        };
      // The worker has paused taking runs (it checks the engine twice a second).
      await until('the worker to stop taking runs', () =>
        stack.logs().includes('taking no runs until it does'),
      );
      // Started while the engine is away: it waits in the queue instead of failing.
      const waiting = await startRun(s, { language: 'python', source: 'print("after docker")' });
      await stopped;
      await dockerAnswers();
      const first = await inFlight.done(90_000);
      // Its sandbox died with the daemon: the system's failure, not the program's.
      expect(first.finished.verdict).toBe('SE');
      const second = await waiting.done(90_000);
      expect(second.finished.verdict).toBe('OK');
      expect(text(second.outputs)).toBe('after docker\n');
      await until('the worker to be ready', async () => (await ready()).checks.docker, 30_000);
      await until('the dead sandbox to be removed', () => containersOf(inFlight.runId) === '');
      s.disconnect();
    },
  ),
  240_000,
);
