import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import mongoose from 'mongoose';
import { io } from 'socket.io-client';
import type { Ack, OutputChunk, RunWatchResult } from '@coderoom/contracts';
import {
  TEST_JWT_SECRET,
  containersOf,
  runToEnd,
  startRun,
  startStack,
  text,
  until,
  type ClientSocket,
  type Stack,
} from './harness.js';

const WALL_MS = 2000;
const SUBMIT_WALL_MS = 4000;
let stack: Stack;
let alice: ClientSocket;

beforeAll(async () => {
  stack = await startStack({
    name: 'runs',
    redisDb: 1,
    gatewayEnv: { TRACE_RUNS: '1' },
    workerEnv: {
      TRACE_RUNS: '1',
      RUN_WALL_MS: String(WALL_MS),
      SUBMIT_WALL_MS: String(SUBMIT_WALL_MS),
      WORKER_CONCURRENCY: '2',
    },
  });
  alice = await stack.connect(await stack.token('alice'));
}, 90_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

describe('hello world through socket.io, gateway, queue, worker and Docker', () => {
  it.each([
    ['python', 'print("Hello, World!")'],
    ['javascript', 'console.log("Hello, World!")'],
    ['c', '#include <stdio.h>\nint main(void) { puts("Hello, World!"); return 0; }\n'],
  ])(
    '%s prints exactly "Hello, World!" with verdict OK',
    async (language, source) => {
      const run = await runToEnd(alice, { language, source });
      expect(run.finished).toMatchObject({ verdict: 'OK', exitCode: 0, truncated: false });
      expect(text(run.outputs, 'stdout')).toBe('Hello, World!\n');
      expect(text(run.outputs, 'stderr')).toBe('');
      expect(run.outputs.map((c) => c.seq)).toEqual(run.outputs.map((_, i) => i + 1));
      expect(run.statuses.map((s) => s.status)).toEqual(
        language === 'c' ? ['queued', 'compiling', 'running'] : ['queued', 'running'],
      );
    },
    60_000,
  );
});

it('streams output while the program runs, not at exit', async () => {
  const source = 'import time\nfor i in range(5):\n    print(f"line {i}")\n    time.sleep(0.3)\n';
  const run = await runToEnd(alice, { language: 'python', source });
  expect(run.finished.verdict).toBe('OK');
  expect(text(run.outputs)).toBe([0, 1, 2, 3, 4].map((i) => `line ${i}\n`).join(''));
  // 5 lines 300 ms apart: several events, the first ~1.2 s before the last.
  expect(run.outputs.length).toBeGreaterThanOrEqual(4);
  const spread = run.arrivals[run.arrivals.length - 1] - run.arrivals[0];
  expect(spread).toBeGreaterThan(900);
  // And the first line arrived well before the run finished.
  expect(run.finishedAt - run.arrivals[0]).toBeGreaterThan(900);
}, 60_000);

it('reports a C compile error as CE with the compiler message on the compile stream', async () => {
  const run = await runToEnd(alice, {
    language: 'c',
    source: 'int main(void) { return undefined_thing; }\n',
  });
  expect(run.finished.verdict).toBe('CE');
  const compile = text(run.outputs, 'compile');
  expect(compile).toContain('main.c:1');
  expect(compile).toContain('undefined_thing');
  expect(text(run.outputs, 'stdout')).toBe('');
  expect(run.statuses.map((s) => s.status)).toEqual(['queued', 'compiling']);
}, 60_000);

it('ends an infinite loop with TLE within the wall limit plus a small margin, container gone', async () => {
  const run = await runToEnd(alice, { language: 'python', source: 'while True:\n    pass\n' });
  expect(run.finished.verdict).toBe('TLE');
  const running = run.statuses.find((s) => s.status === 'running');
  expect(running).toBeDefined();
  expect(run.finished.timeMs).toBeGreaterThanOrEqual(WALL_MS - 50);
  expect(run.finished.timeMs).toBeLessThan(WALL_MS + 1000);
  // The owner heard of the end within the limit plus a margin, measured on the client.
  expect(run.finishedAt - Date.parse(running!.at)).toBeLessThan(WALL_MS + 1500);
  await until('the container to be removed', () => containersOf(run.runId) === '', 10_000);
}, 60_000);

it('gives a submission its own, longer clock per test', async () => {
  // 3 s of sleep: past the run mode's 2 s, within submit mode's 4 s per test.
  const source = 'import time\ntime.sleep(3)\nprint("done")\n';
  const teacher = await stack.connect(await stack.token('clock-teacher', 'instructor'));
  const created = await teacher.emitWithAck('problem:create', {
    title: 'Slow but right',
    statement: 'Print `done`.',
    tests: [{ stdin: '', expected: 'done\n' }],
  });
  if (!created.ok) throw new Error(`problem:create: ${JSON.stringify(created)}`);
  const problemId = created.problem.problemId;
  const [tried, submitted] = await Promise.all([
    runToEnd(alice, { language: 'python', source }),
    runToEnd(teacher, { language: 'python', source, mode: 'submit', problemId }),
  ]);
  expect(tried.finished.verdict).toBe('TLE');
  expect(submitted.finished).toMatchObject({ verdict: 'AC', score: 1, maxScore: 1 });
  const looping = await runToEnd(teacher, {
    language: 'python',
    source: 'while True:\n    pass\n',
    mode: 'submit',
    problemId,
  });
  expect(looping.finished.verdict).toBe('TLE');
  expect(looping.finished.tests?.[0].timeMs).toBeGreaterThanOrEqual(SUBMIT_WALL_MS - 1000);
  teacher.disconnect();
}, 60_000);

it('reports a non-zero exit as RE with its exit code', async () => {
  const run = await runToEnd(alice, {
    language: 'javascript',
    source: 'console.error("bad"); process.exit(3)',
  });
  expect(run.finished).toMatchObject({ verdict: 'RE', exitCode: 3 });
  expect(text(run.outputs, 'stderr')).toBe('bad\n');
}, 60_000);

it('passes stdin to the program', async () => {
  const run = await runToEnd(alice, {
    language: 'python',
    source: 'import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))',
    stdin: '1 2 3\n4\n',
  });
  expect(text(run.outputs, 'stdout')).toBe('10\n');
}, 60_000);

it('lets a second client watch mid-run from seq 0: complete output, in order, no duplicates', async () => {
  const lines = 25;
  const source = `import time\nfor i in range(${lines}):\n    print("x" * 50, i, flush=True)\n    time.sleep(0.06)\n`;
  const expected = Array.from({ length: lines }, (_, i) => `${'x'.repeat(50)} ${i}\n`).join('');
  const owner = await startRun(alice, { language: 'python', source });
  await until('some output to arrive', () => owner.outputs.length >= 3, 20_000);

  const watcher = await stack.connect(await stack.token('alice'));
  const live: OutputChunk[] = [];
  let finished = false;
  let acked = false;
  const beforeAck: OutputChunk[] = [];
  watcher.on('run:output', (c) => (acked ? live : beforeAck).push(c));
  watcher.on('run:finished', () => (finished = true));
  // The ack callback, not `await emitWithAck`: the ack and the next chunk can arrive in one
  // transport packet, and a promise's continuation would run only after that chunk's handler.
  const ack = await new Promise<Ack<RunWatchResult>>((resolve) =>
    watcher.emit('run:watch', { runId: owner.runId, afterSeq: 0 }, (answer) => {
      acked = true;
      resolve(answer);
    }),
  );
  expect(ack.ok).toBe(true);
  const { backlog, run } = ack as { ok: true } & RunWatchResult;
  expect(run.status).toBe('running');
  expect(backlog.length).toBeGreaterThanOrEqual(3);
  await until('the watcher to see run:finished', () => finished, 20_000);

  expect(beforeAck).toEqual([]);
  const all = [...backlog, ...live];
  expect(all.map((c) => c.seq)).toEqual(all.map((_, i) => i + 1));
  expect(text(all)).toBe(expected);
  const ownerRun = await owner.done();
  expect(text(ownerRun.outputs)).toBe(expected);
  watcher.disconnect();
}, 60_000);

it('stores a short run once, when it ends, with its start; a longer one is marked running after 1 s', async () => {
  const conn = await mongoose.createConnection(stack.mongoUri).asPromise();
  try {
    const runs = conn.collection<{ _id: string; status: string; startedAt: Date | null }>('runs');
    const stored = (id: string) => runs.findOne({ _id: id });
    const short = await runToEnd(alice, { language: 'python', source: 'print(1)' });
    const runningAt = Date.parse(short.statuses.find((e) => e.status === 'running')?.at ?? '');
    expect(runningAt).toBeGreaterThan(0);
    await until(
      'the short run to be stored',
      async () => (await stored(short.runId))?.status === 'finished',
    );
    // The stored start is when the program was handed to its sandbox; `running` says so a
    // moment later (after a compile, it would be much later).
    const storedStart = (await stored(short.runId))?.startedAt?.getTime() ?? 0;
    expect(runningAt - storedStart).toBeGreaterThanOrEqual(0);
    expect(runningAt - storedStart).toBeLessThan(50);

    const long = await startRun(alice, {
      language: 'python',
      source: 'import time\nprint("start", flush=True)\ntime.sleep(1.6)\nprint("end")',
    });
    await until('the long run to print', () => long.outputs.length > 0, 10_000);
    expect((await stored(long.runId))?.status).not.toBe('running'); // not yet: < 1 s in
    await until(
      'the long run to be marked running',
      async () => (await stored(long.runId))?.status === 'running',
      5_000,
    );
    const end = await long.done();
    expect(end.finished.verdict).toBe('OK');
    await until(
      'the long run to be stored',
      async () => (await stored(long.runId))?.status === 'finished',
    );
  } finally {
    await conn.close();
  }
}, 30_000);

it('traces every stage of a run when TRACE_RUNS=1 (deploy/bench/trace.mjs), in order', async () => {
  const run = await runToEnd(alice, { language: 'python', source: 'print("traced")' });
  const stages = [
    'gateway-received',
    'gateway-admitted',
    'gateway-enqueued',
    'worker-took',
    'worker-checked',
    'worker-sandbox',
    'worker-written',
    'worker-first-bytes',
    'worker-first-output',
    'worker-exited',
    'worker-announced',
  ];
  const at = new Map<string, number>();
  await until('the run to be traced', () => {
    for (const m of stack.logs().matchAll(/TRACE (\S+) (\S+) ([\d.]+)/g)) {
      if (m[2] === run.runId) at.set(m[1], Number(m[3]));
    }
    return stages.every((s) => at.has(s));
  });
  // In order within each process; across them only where one waits for the other (the worker
  // may take the job before the gateway hears that its add succeeded).
  const inOrder = (names: string[]) => {
    const times = names.map((s) => at.get(s)!);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  };
  inOrder(stages.filter((s) => s.startsWith('gateway-')));
  inOrder(stages.filter((s) => s.startsWith('worker-')));
  inOrder(['gateway-admitted', 'worker-took']);
  const times = stages.map((s) => at.get(s)!);
  expect(times[0]).toBeGreaterThanOrEqual(run.startedAt - 1000); // epoch ms, this machine's clock
}, 30_000);

it('answers a watch of a finished run with the whole output and the result', async () => {
  const run = await runToEnd(alice, { language: 'python', source: 'print("a")\nprint("b")' });
  const ack = await alice.emitWithAck('run:watch', { runId: run.runId, afterSeq: 0 });
  expect(ack).toMatchObject({ ok: true, run: { status: 'finished', result: { verdict: 'OK' } } });
  expect(text((ack as { ok: true } & RunWatchResult).backlog)).toBe('a\nb\n');
}, 60_000);

it('does not let another student watch or cancel a run', async () => {
  const run = await runToEnd(alice, { language: 'python', source: 'print(1)' });
  const mallory = await stack.connect(await stack.token('mallory'));
  expect(await mallory.emitWithAck('run:watch', { runId: run.runId })).toMatchObject({
    ok: false,
    error: { code: 'FORBIDDEN' },
  });
  expect(await mallory.emitWithAck('run:watch', { runId: 'no-such-run' })).toMatchObject({
    ok: false,
    error: { code: 'NOT_FOUND' },
  });
  mallory.disconnect();
}, 60_000);

it('cancels a running program: CANCELLED, container gone', async () => {
  const started = await startRun(alice, {
    language: 'python',
    source: 'import time\nprint("up", flush=True)\ntime.sleep(30)',
  });
  await until('the program to start', () => started.outputs.length > 0, 20_000);
  expect(await alice.emitWithAck('run:cancel', { runId: started.runId })).toEqual({ ok: true });
  const run = await started.done(10_000);
  expect(run.finished.verdict).toBe('CANCELLED');
  await until('the container to be removed', () => containersOf(run.runId) === '', 10_000);
}, 60_000);

describe('authentication', () => {
  const attempt = (auth: object) =>
    new Promise<{ message: string; data: unknown }>((resolve, reject) => {
      const s = io(stack.url, {
        auth,
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      s.on('connect', () => {
        s.disconnect();
        reject(new Error('connected without a valid token'));
      });
      s.on('connect_error', (err: Error & { data?: unknown }) => {
        s.disconnect();
        resolve({ message: err.message, data: err.data });
      });
    });

  it('refuses a connection without a token', async () => {
    expect(await attempt({})).toEqual({ message: 'unauthorized', data: { code: 'UNAUTHORIZED' } });
  });

  it('refuses a malformed, wrongly signed or expired token', async () => {
    const key = (s: string) => new TextEncoder().encode(s);
    const claims = { name: 'eve', role: 'student' };
    const wrongKey = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('eve')
      .setExpirationTime('1h')
      .sign(key('another-secret-of-enough-length'));
    const expired = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('eve')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(key(TEST_JWT_SECRET));
    // Correctly signed, but with an empty subject: nobody could own its runs.
    const noSubject = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('')
      .setExpirationTime('1h')
      .sign(key(TEST_JWT_SECRET));
    for (const token of ['garbage', wrongKey, expired, noSubject, 42]) {
      expect(await attempt({ token })).toEqual({
        message: 'unauthorized',
        data: { code: 'UNAUTHORIZED' },
      });
    }
  });
});

describe('invalid input', () => {
  it('answers an invalid run:start with INVALID and details, and the connection stays usable', async () => {
    for (const bad of [
      undefined,
      'text',
      { language: 'python' },
      { language: 'python', source: 1 },
      { language: 'python', source: 'x', files: [{ path: '../etc/passwd', content: '' }] },
    ]) {
      const ack = await alice.emitWithAck('run:start', bad as never);
      expect(ack).toMatchObject({ ok: false, error: { code: 'INVALID' } });
      expect((ack as { error: { details?: unknown } }).error.details).toBeDefined();
    }
    expect(
      await alice.emitWithAck('run:start', { language: 'klingon', source: 'x' }),
    ).toMatchObject({
      ok: false,
      error: { code: 'UNSUPPORTED_LANGUAGE' },
    });
    expect(
      await alice.emitWithAck('run:start', { language: 'python', source: 'x'.repeat(300_000) }),
    ).toMatchObject({
      ok: false,
      error: { code: 'TOO_LARGE' },
    });
    expect(alice.connected).toBe(true);
    const langs = await alice.emitWithAck('languages:list', {});
    expect(langs).toMatchObject({ ok: true });
    expect((langs as { languages: { id: string }[] }).languages.map((l) => l.id)).toEqual(
      expect.arrayContaining(['c', 'javascript', 'python']),
    );
  });

  it('answers an unknown event with INVALID', async () => {
    const ack = await (
      alice as unknown as { emitWithAck(e: string, p: unknown): Promise<unknown> }
    ).emitWithAck('run:explode', {});
    expect(ack).toMatchObject({ ok: false, error: { code: 'INVALID' } });
  });
});

it('runs the gateway and the worker as separate processes', () => {
  const ps = execFileSync('ps', ['-eo', 'pid,args']).toString();
  expect(ps).toMatch(/server\/dist\/src\/main\.js/);
  expect(ps).toMatch(/worker\/dist\/src\/main\.js/);
});

describe('interactive runs', () => {
  const echo =
    'import sys\nfor line in sys.stdin:\n    print("got", line.strip(), flush=True)\nprint("eof")\n';

  it('writes run:input to the running program, in order, and eof closes its stdin', async () => {
    const run = await startRun(alice, { language: 'python', source: echo, interactive: true });
    // Sent at once: the sandbox may not even exist yet; the input waits and arrives in order.
    expect(await alice.emitWithAck('run:input', { runId: run.runId, data: 'one\n' })).toEqual({
      ok: true,
    });
    await until('the first echo', () => text(run.outputs).includes('got one'), 20_000);
    expect(
      await alice.emitWithAck('run:input', { runId: run.runId, data: 'two\nthree\n' }),
    ).toEqual({ ok: true });
    await until('more echoes', () => text(run.outputs).includes('got three'), 20_000);
    expect(await alice.emitWithAck('run:input', { runId: run.runId, data: '', eof: true })).toEqual(
      { ok: true },
    );
    // stdin is closed now: more input is refused, not silently dropped.
    expect(
      await alice.emitWithAck('run:input', { runId: run.runId, data: 'four\n' }),
    ).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT' },
    });
    const done = await run.done(20_000);
    expect(done.finished.verdict).toBe('OK');
    expect(text(done.outputs)).toBe('got one\ngot two\ngot three\neof\n');
  }, 60_000);

  it('refuses more than 1 MiB of input for one run with TOO_LARGE', async () => {
    const run = await startRun(alice, {
      language: 'python',
      source: 'import time\ntime.sleep(30)',
      interactive: true,
    });
    const piece = 'x'.repeat(64 * 1024);
    const acks = [];
    for (let i = 0; i < 17; i++)
      acks.push(await alice.emitWithAck('run:input', { runId: run.runId, data: piece }));
    expect(acks.slice(0, 16).every((a) => a.ok)).toBe(true);
    expect(acks[16]).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } });
    await alice.emitWithAck('run:cancel', { runId: run.runId });
    await run.done(20_000);
  }, 60_000);

  it('keeps a program that waits for input bound by the wall clock', async () => {
    const run = await runToEnd(alice, { language: 'python', source: 'input()', interactive: true });
    expect(run.finished.verdict).toBe('TLE');
  }, 60_000);

  it('refuses input to a non-interactive run, from another user, and after the end', async () => {
    const plain = await runToEnd(alice, { language: 'python', source: 'print(1)' });
    expect(await alice.emitWithAck('run:input', { runId: plain.runId, data: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT' },
    });
    const live = await startRun(alice, { language: 'python', source: echo, interactive: true });
    const mallory = await stack.connect(await stack.token('mallory'));
    expect(await mallory.emitWithAck('run:input', { runId: live.runId, data: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    mallory.disconnect();
    await alice.emitWithAck('run:input', { runId: live.runId, data: '', eof: true });
    await live.done(20_000);
    expect(await alice.emitWithAck('run:input', { runId: live.runId, data: 'late' })).toMatchObject(
      {
        ok: false,
        error: { code: 'CONFLICT' },
      },
    );
  }, 60_000);
});
