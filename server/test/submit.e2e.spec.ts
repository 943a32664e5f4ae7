import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import mongoose from 'mongoose';
import {
  RUN_QUEUE,
  redisKeys,
  type Ack,
  type OutputChunk,
  type RunFinishedEvent,
  type RunJob,
  type RunStatusEvent,
  type RunTestEvent,
  type RunWatchResult,
  type SubmitSpec,
  type SubmitTest,
} from '@coderoom/contracts';
import {
  TEST_JWT_SECRET,
  startStack,
  text,
  until,
  withLogs,
  type ClientSocket,
  type Stack,
} from './harness.js';

// Graded submissions through the real worker, runner and Docker. The gateway's problem store is
// not here yet: this test puts `mode: "submit"` jobs with their tests on the BullMQ queue the
// way the gateway's admission does (the run's live state in Redis, then the job), and watches
// the run through the gateway (`run:watch`) like its owner would.

const SUBMIT_WALL_MS = 3000;
const OUTPUT_LIMIT = 16 * 1024;
let stack: Stack;
let student: ClientSocket;
let redis: Redis;
let queue: Queue<RunJob>;
/** The queue's own connection (BullMQ leaves a connection it was given open on close). */
let queueRedis: Redis;
let db: mongoose.Connection;
const OWNER = 'submit-student';

beforeAll(async () => {
  stack = await startStack({
    name: 'submit',
    redisDb: 14,
    workerEnv: {
      SUBMIT_WALL_MS: String(SUBMIT_WALL_MS),
      SUBMIT_CPU_MS: '2000',
      OUTPUT_LIMIT_BYTES: String(OUTPUT_LIMIT),
      SUBMIT_OUTPUT_BYTES: String(4 * OUTPUT_LIMIT),
      WORKER_CONCURRENCY: '2',
    },
  });
  const token = await new SignJWT({ role: 'student', name: 'Student' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(OWNER)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
  student = await stack.connect(token);
  redis = new Redis(stack.redisUrl);
  queueRedis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  queue = new Queue<RunJob>(RUN_QUEUE, { connection: queueRedis });
  db = await mongoose.createConnection(stack.mongoUri).asPromise();
}, 90_000);

afterAll(async () => {
  await queue?.close();
  await queueRedis?.quit();
  await redis?.quit();
  await db?.close();
  await stack?.stop();
}, 30_000);

interface Submitted {
  runId: string;
  tests: RunTestEvent[];
  outputs: OutputChunk[];
  statuses: RunStatusEvent[];
  finished: RunFinishedEvent;
  /** Everything the student's socket received for this run, as JSON. */
  received: string;
}

/** Admits and enqueues a submission as the gateway would, and follows it to its end. */
async function submit(
  language: string,
  source: string,
  spec: Omit<SubmitSpec, 'problemId'>,
  ms = 60_000,
): Promise<Submitted> {
  const runId = randomUUID();
  const fileName = { python: 'main.py', c: 'main.c' }[language] ?? 'main';
  await redis
    .multi()
    .hset(redisKeys.state(runId), {
      status: 'queued',
      lastSeq: '0',
      ownerId: OWNER,
      language,
      mode: 'submit',
      interactive: '0',
      createdAt: new Date().toISOString(),
    })
    .expire(redisKeys.state(runId), 3600)
    .exec();
  const got: Omit<Submitted, 'finished' | 'received'> & { finished: RunFinishedEvent | null } = {
    runId,
    tests: [],
    outputs: [],
    statuses: [],
    finished: null,
  };
  const all: unknown[] = [];
  const mine =
    <E extends { runId: string }>(push: (e: E) => void) =>
    (e: E) => {
      all.push(e);
      if (e.runId === runId) push(e);
    };
  const onTest = mine<RunTestEvent>((e) => got.tests.push(e));
  const onOutput = mine<OutputChunk>((e) => got.outputs.push(e));
  const onStatus = mine<RunStatusEvent>((e) => got.statuses.push(e));
  const onFinished = mine<RunFinishedEvent>((e) => (got.finished = e));
  student.on('run:test', onTest);
  student.on('run:output', onOutput);
  student.on('run:status', onStatus);
  student.on('run:finished', onFinished);
  try {
    const ack = (await student
      .timeout(10_000)
      .emitWithAck('run:watch', { runId })) as Ack<RunWatchResult>;
    expect(ack).toMatchObject({ ok: true });
    all.push(ack);
    await queue.add(
      'run',
      {
        runId,
        ownerId: OWNER,
        language,
        mode: 'submit',
        files: [{ path: fileName, content: source }],
        stdin: '',
        interactive: false,
        submit: { problemId: 'problem-1', ...spec },
      },
      { jobId: runId, priority: 1, attempts: 1, removeOnComplete: true },
    );
    await until(`run:finished of submission ${runId}`, () => got.finished !== null, ms);
  } finally {
    student.off('run:test', onTest);
    student.off('run:output', onOutput);
    student.off('run:status', onStatus);
    student.off('run:finished', onFinished);
  }
  return { ...got, finished: got.finished!, received: JSON.stringify(all) };
}

const test = (
  index: number,
  stdin: string,
  expected: string,
  opts: { points?: number; hidden?: boolean } = {},
): SubmitTest => ({
  index,
  stdin,
  expected,
  points: opts.points ?? 10,
  hidden: opts.hidden ?? false,
});

/** Sum of the numbers on stdin: visible tests 0 and 1, hidden 2 and 3. */
const SUM_TESTS = [
  test(0, '1 2\n', '3\n'),
  test(1, '10 20 30\n', '60\n', { points: 20 }),
  test(2, '100 200\n', '300\n', { hidden: true, points: 30 }),
  test(3, '-5 5\n', '0\n', { hidden: true, points: 40 }),
];
const SUM = 'import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n';

/**
 * A Python program that prints how many words its input has, unless the input is one of the
 * words of `special`: then it runs that word's lines.
 */
function wordCounter(special: Record<string, string>): string {
  const cases = Object.entries(special).flatMap(([word, code]) => [
    `if w == [${JSON.stringify(word)}]:`,
    `    ${code}`,
  ]);
  return ['import sys, time', 'w = sys.stdin.read().split()', ...cases, 'print(len(w))'].join('\n');
}

/** A test of this file, with the services' logs on failure. */
const graded = (name: string, body: () => Promise<void>) =>
  it(
    name,
    withLogs(() => stack, body),
    90_000,
  );

/** The stored run (the worker writes its result and output there after run:finished). */
async function stored(runId: string): Promise<Record<string, unknown>> {
  let doc: Record<string, unknown> | null = null;
  await until(`the stored result of ${runId}`, async () => {
    doc = await db.collection('runs').findOne({ _id: runId as never, status: 'finished' });
    return doc !== null;
  });
  return doc!;
}

/** Events of a hidden test carry exactly these fields. */
const HIDDEN_FIELDS = ['hidden', 'index', 'maxPoints', 'points', 'runId', 'timeMs', 'verdict'];

describe('graded submissions (worker, runner, Docker)', () => {
  graded(
    'accepts a correct program: AC with the full score, one run:test per test, hidden tests bare',
    async () => {
      const s = await submit('python', SUM, { checker: 'exact', tests: SUM_TESTS });
      expect(s.finished).toMatchObject({ verdict: 'AC', score: 100, maxScore: 100 });
      // Visible tests run first, then the hidden ones: events come in that order.
      expect(s.tests.map((t) => [t.index, t.verdict, t.points])).toEqual([
        [0, 'AC', 10],
        [1, 'AC', 20],
        [2, 'AC', 30],
        [3, 'AC', 40],
      ]);
      expect(s.tests[0]).toMatchObject({ stdin: '1 2\n', expected: '3\n', actual: '3\n' });
      for (const t of s.tests.filter((x) => x.hidden)) {
        expect(Object.keys(t).sort()).toEqual(HIDDEN_FIELDS);
      }
      expect(s.finished.tests).toEqual(s.tests);
      // run:output: the visible tests' output only.
      expect(text(s.outputs, 'stdout')).toBe('3\n60\n');
      expect(s.statuses.map((x) => x.status)).toEqual(['running']);
      const doc = await stored(s.runId);
      expect(doc.result).toMatchObject({ verdict: 'AC', score: 100, maxScore: 100 });
    },
  );

  graded(
    'is WA with a partial score, naming the first failing test (tokens and float checkers)',
    async () => {
      // Right on small inputs, off by one from 100 up.
      const source =
        'import sys\nn = sum(int(x) for x in sys.stdin.read().split())\nprint(n + (n >= 100))\n';
      const s = await submit('python', source, { checker: 'tokens', tests: SUM_TESTS });
      expect(s.tests.map((t) => t.verdict)).toEqual(['AC', 'AC', 'WA', 'AC']);
      expect(s.finished).toMatchObject({ verdict: 'WA', score: 70, maxScore: 100 });

      const third = 'print(1 / 3)\n';
      const float = await submit('python', third, {
        checker: 'float',
        tolerance: 1e-4,
        tests: [test(0, '', '0.3333'), test(1, '', '0.33', { hidden: true })],
      });
      expect(float.tests.map((t) => t.verdict)).toEqual(['AC', 'WA']);
      expect(float.finished).toMatchObject({ verdict: 'WA', score: 10 });
    },
  );

  graded('is CE when the program does not compile: the compiler output, no test run', async () => {
    const s = await submit('c', 'int main(void) { return nope; }\n', {
      checker: 'exact',
      tests: SUM_TESTS,
    });
    expect(s.finished).toMatchObject({ verdict: 'CE', score: 0, maxScore: 100, tests: [] });
    expect(s.tests).toEqual([]);
    expect(text(s.outputs, 'compile')).toContain('nope');
    expect(text(s.outputs, 'stdout')).toBe('');
  });

  graded(
    'gives TLE to the one slow test (CPU and wall clock, per test) and grades the others',
    async () => {
      const source = wordCounter({ spin: 'while True: pass', sleep: 'time.sleep(30)' });
      const started = Date.now();
      const s = await submit('python', source, {
        checker: 'exact',
        wallMs: 1000,
        cpuMs: 500,
        tests: [
          test(0, 'a b\n', '2'),
          test(1, 'spin\n', '1'),
          test(2, 'sleep\n', '1', { hidden: true }),
          test(3, 'x y z\n', '3', { hidden: true }),
        ],
      });
      expect(s.tests.map((t) => t.verdict)).toEqual(['AC', 'TLE', 'TLE', 'AC']);
      expect(s.finished).toMatchObject({ verdict: 'TLE', score: 20 });
      const [, spin, sleep] = s.tests;
      expect(spin.timeMs).toBeLessThan(1500); // its 500 ms of CPU, not the 3 s default
      expect(sleep.timeMs).toBeGreaterThanOrEqual(1000);
      expect(sleep.timeMs).toBeLessThan(2500); // its own 1 s wall clock
      expect(Date.now() - started).toBeLessThan(20_000);
    },
  );

  graded(
    'is RE on a crash; a visible test shows its stderr, the run goes on to the next test',
    async () => {
      const source = wordCounter({ boom: "raise ValueError('visible boom')" });
      const s = await submit('python', source, {
        checker: 'exact',
        tests: [test(0, 'boom', ''), test(1, 'a', '1'), test(2, 'a b', '2', { hidden: true })],
      });
      expect(s.tests.map((t) => t.verdict)).toEqual(['RE', 'AC', 'AC']);
      expect(s.finished).toMatchObject({ verdict: 'RE', score: 20, maxScore: 30 });
      expect(text(s.outputs, 'stderr')).toContain('ValueError: visible boom');
    },
  );

  graded('is OLE for a test that prints past its limit, the others still graded', async () => {
    const source = wordCounter({ flood: "sys.stdout.write('x' * 10_000_000)" });
    const s = await submit('python', source, {
      checker: 'exact',
      tests: [test(0, 'a', '1'), test(1, 'flood', '1'), test(2, 'a b', '2', { hidden: true })],
    });
    expect(s.tests.map((t) => t.verdict)).toEqual(['AC', 'OLE', 'AC']);
    expect(s.finished).toMatchObject({ verdict: 'OLE', truncated: true, score: 20 });
    expect(Buffer.byteLength(s.tests[1].actual ?? '')).toBeLessThanOrEqual(OUTPUT_LIMIT);
  });

  graded(
    'applies the problem memory limit per test: MLE for the test that allocates too much',
    async () => {
      const source = [
        'import sys',
        'n = int(sys.stdin.read())',
        'block = bytearray(n * 1024 * 1024)',
        'for i in range(0, len(block), 4096): block[i] = 1',
        'print(n)',
      ].join('\n');
      const s = await submit('python', source, {
        checker: 'exact',
        memoryMb: 96,
        tests: [test(0, '8', '8'), test(1, '400', '400'), test(2, '16', '16', { hidden: true })],
      });
      expect(s.tests.map((t) => t.verdict)).toEqual(['AC', 'MLE', 'AC']);
      expect(s.finished).toMatchObject({ verdict: 'MLE', score: 20 });
    },
  );

  graded(
    'never shows hidden data to the student, whatever the program does with its stdin',
    async () => {
      // The program prints its input to stdout and stderr, writes it to the sandbox's own
      // stderr (through PID 1, which holds it), and stashes it in files that later tests print.
      const source = [
        'import glob, os, sys',
        'data = sys.stdin.read()',
        'for p in sorted(glob.glob("/tmp/seen-*") + glob.glob("/box/seen-*")):',
        '    print("earlier:", open(p).read())',
        'print(data)',
        'print(data, file=sys.stderr)',
        'for where in ("/tmp", "/box"):',
        '    open(f"{where}/seen-{os.getpid()}", "w").write(data)',
        'try:',
        '    with open("/proc/1/fd/2", "w") as f: f.write(data)',
        'except OSError as e:',
        '    print("no /proc/1/fd/2:", e, file=sys.stderr)',
      ].join('\n');
      const secrets = [randomUUID(), randomUUID(), randomUUID(), randomUUID()].map(
        (u) => `HIDDEN-${u}`,
      );
      const s = await submit('python', source, {
        checker: 'exact',
        tests: [
          test(0, 'visible-0', 'nope'),
          test(1, secrets[0], secrets[1], { hidden: true }), // its input is its expected output
          test(2, 'visible-2', 'nope'),
          test(3, secrets[2], secrets[3], { hidden: true }),
        ],
      });
      expect(s.tests.map((t) => [t.index, t.verdict])).toEqual([
        [0, 'WA'],
        [2, 'WA'],
        [1, 'WA'],
        [3, 'WA'],
      ]);
      // The visible tests ran first: what they show is visible data only.
      expect(text(s.outputs, 'stdout')).toContain('visible-0');
      expect(text(s.outputs, 'stdout')).toContain('earlier: visible-0');
      const doc = await stored(s.runId);
      const state = await redis.hgetall(redisKeys.state(s.runId));
      const log = await redis.lrange(redisKeys.log(s.runId), 0, -1);
      const places: [string, string][] = [
        ['the socket', s.received],
        ['the stored run', JSON.stringify(doc)],
        ['the live state', JSON.stringify(state)],
        ['the replay log', JSON.stringify(log)],
        ['the services logs', stack.logs()],
      ];
      for (const [where, seen] of places) {
        for (const secret of secrets) {
          expect({ where, leaked: seen.includes(secret) }).toEqual({ where, leaked: false });
        }
      }
      for (const t of s.tests.filter((x) => x.hidden)) {
        expect(Object.keys(t).sort()).toEqual(HIDDEN_FIELDS);
      }
    },
  );
});
