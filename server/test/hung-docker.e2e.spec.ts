import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import {
  containersOf,
  dockerAnswers,
  dockerRestartable,
  startRun,
  startStack,
  text,
  until,
  withLogs,
  type Stack,
} from './harness.js';

// A Docker engine that hangs (answers nothing, but does not die): frozen here with SIGSTOP. A
// run whose sandbox is being started then must not hold its worker slot for ever: past
// SANDBOX_START_MS it ends as SE, the sandbox that arrives late is removed, and runs sent while
// the engine hangs wait in the queue (the worker's Docker watch pauses it) and run once the
// engine answers again. Only with a dockerd that the stack of this checkout started (freezing
// anyone else's would freeze their containers' management too).

const START_MS = 3000;
let stack: Stack;

const notOurs = dockerRestartable();
if (notOurs) console.warn(`hung Docker engine test skipped: ${notOurs}`);

beforeAll(async () => {
  if (notOurs) return;
  stack = await startStack({
    name: 'hung-docker',
    redisDb: 23,
    // No pool: the run's own create, attach and start meet the frozen engine.
    workerEnv: { WARM_POOL_SIZE: '0', SANDBOX_START_MS: String(START_MS) },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

function dockerdPid(): number {
  return Number(execFileSync('pidof', ['-s', 'dockerd']).toString().trim());
}

(notOurs ? it.skip : it)(
  'ends a run whose sandbox cannot start within SANDBOX_START_MS as SE, removes the late sandbox, and runs what was queued once the engine answers',
  withLogs(
    () => stack,
    async () => {
      const s = await stack.connect(await stack.token('hung-docker'));
      // Warm the image cache and the worker: a normal run first.
      const before = await (
        await startRun(s, { language: 'python', source: 'print("before")' })
      ).done(30_000);
      expect(before.finished.verdict).toBe('OK');

      const pid = dockerdPid();
      let frozen = false;
      try {
        const hung = await startRun(s, { language: 'python', source: 'print("hung")' });
        // The worker takes the job within milliseconds of the ack and asks Docker for a
        // container; the engine freezes during that (a cold start takes ~100 ms).
        process.kill(pid, 'SIGSTOP');
        frozen = true;
        const sentAt = Date.now();
        const end = await hung.done(START_MS + 15_000);
        expect(end.finished.verdict).toBe('SE');
        // The deadline, not the engine, ended it (the engine is still frozen).
        expect(Date.now() - sentAt).toBeLessThan(START_MS + 10_000);
        expect(stack.logs()).toContain(`no answer from Docker in ${START_MS} ms`);

        // Sent while the engine hangs: the worker noticed (its pings time out) and takes no
        // run, so this one waits instead of failing.
        await until('the worker to stop taking runs', () =>
          stack.logs().includes('taking no runs until it does'),
        );
        const queued = await startRun(s, { language: 'python', source: 'print("after")' });
        // Still not finished a while later (the listeners stay for the `done` below).
        await expect(queued.done(START_MS + 1000)).rejects.toThrow(/run:finished/);

        process.kill(pid, 'SIGCONT');
        frozen = false;
        await dockerAnswers();
        const after = await queued.done(60_000);
        expect(after.finished.verdict).toBe('OK');
        expect(text(after.outputs)).toBe('after\n');
        // The container Docker created for the SE run after all is removed, not left behind.
        await until(
          'the late sandbox to be removed',
          () => containersOf(hung.runId) === '',
          30_000,
        );
      } finally {
        if (frozen) process.kill(pid, 'SIGCONT');
      }
      s.disconnect();
    },
  ),
  180_000,
);

(notOurs ? it.skip : it)(
  'ends a run whose engine hangs while it runs as SE (its wall-clock limit, then the kill grace), and removes its sandbox once the engine answers',
  withLogs(
    () => stack,
    async () => {
      const s = await stack.connect(await stack.token('hung-docker-running'));
      const run = await startRun(s, {
        language: 'python',
        source: 'import time\nprint("up", flush=True)\ntime.sleep(60)',
      });
      await until('the program to run', () => text(run.outputs) === 'up\n', 30_000);
      const pid = dockerdPid();
      let frozen = false;
      try {
        process.kill(pid, 'SIGSTOP');
        frozen = true;
        const frozenAt = Date.now();
        // The wall-clock limit (5 s) fires, the kill gets no answer, and 5 s later the worker
        // gives up on the sandbox: the verdict cannot be known, so SE (not TLE, not hanging).
        const end = await run.done(30_000);
        const took = Date.now() - frozenAt;
        expect(end.finished.verdict).toBe('SE');
        expect(took).toBeGreaterThan(4_000);
        expect(took).toBeLessThan(20_000);
        expect(stack.logs()).toContain('no exit 5000 ms after the kill');

        process.kill(pid, 'SIGCONT');
        frozen = false;
        await dockerAnswers();
        await until('the sandbox to be removed', () => containersOf(run.runId) === '', 30_000);
        // And the worker runs programs again.
        const after = await (
          await startRun(s, { language: 'python', source: 'print("after")' })
        ).done(60_000);
        expect(after.finished.verdict).toBe('OK');
      } finally {
        if (frozen) process.kill(pid, 'SIGCONT');
      }
      s.disconnect();
    },
  ),
  120_000,
);
