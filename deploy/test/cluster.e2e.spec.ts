import { afterAll, beforeAll, expect, it } from '@jest/globals';
import mongoose from 'mongoose';
import { io } from 'socket.io-client';
import type { OutputChunk, Role, RunFinishedEvent, RunWatchResult } from '@coderoom/contracts';
import { CoderoomClient, type CoderoomError, type Run } from '../../client/sdk/src/index.js';
import {
  gatewayMetrics,
  startRun,
  startStack,
  text,
  until,
  withLogs,
  type ClientSocket,
  type Stack,
} from '../../server/test/harness.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    name: 'cluster',
    redisDb: 15,
    gateways: 2,
    balancer: true,
    workers: 2,
    // Its own Redis, so that the last test can restart it.
    ownRedis: true,
    workerEnv: { WORKER_CONCURRENCY: '2', RUN_WALL_MS: '15000' },
    gatewayEnv: { RUN_QUOTAS: JSON.stringify({ student: { perMinute: 600 } }) },
  });
}, 120_000);

afterAll(async () => {
  if (process.env.DEBUG_LOGS) console.log(stack?.logs());
  await stack?.stop();
}, 60_000);

const LINES = 40;
const source = `import time\nfor i in range(${LINES}):\n    print(f"n{i:03d}", flush=True)\n    time.sleep(0.075)\n`;
const expected = Array.from({ length: LINES }, (_, i) => `n${String(i).padStart(3, '0')}\n`).join(
  '',
);

/** Which gateway node holds our socket: the one whose metrics count a connected socket. */
async function servingNode(): Promise<number> {
  for (let i = 0; i < stack.urls.length; i++) {
    const m = await gatewayMetrics(stack.urls[i]).catch(() => ''); // a dead node holds nothing
    if (/^coderoom_gateway_sockets 1$/m.test(m)) return i;
  }
  throw new Error('no node holds the socket');
}

it('survives the death of the serving gateway behind the balancer: the client reconnects through it and loses nothing', async () => {
  const token = await stack.token('lb');
  // Long-polling first, then the upgrade: this only works with sticky sessions.
  const s: ClientSocket = io(stack.url, {
    auth: { token },
    withCredentials: true, // keeps the balancer's cookie (Node cookie jar)
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  const chunks: OutputChunk[] = [];
  let finished: RunFinishedEvent | null = null;
  let runId = '';
  const seen = new Set<number>();
  const take = (c: OutputChunk) => {
    if (c.runId !== runId || seen.has(c.seq)) return;
    seen.add(c.seq);
    chunks.push(c);
  };
  s.on('run:output', take);
  s.on('run:finished', (e) => {
    if (e.runId === runId) finished = e;
  });
  const ack = await s.emitWithAck('run:start', { language: 'python', source });
  if (!ack.ok) throw new Error(JSON.stringify(ack));
  runId = ack.runId;
  await until('output before the crash', () => chunks.length >= 5, 20_000);

  const node = await servingNode();
  let reconnected = false;
  s.io.on('reconnect', () => {
    reconnected = true;
    // After a reconnect the new node knows nothing of us: resume from the last seq held.
    const last = Math.max(0, ...seen);
    void s.emitWithAck('run:watch', { runId, afterSeq: last }).then((w) => {
      if (!w.ok) return;
      const r = w as { ok: true } & RunWatchResult;
      r.backlog.forEach(take);
      if (r.run.result) finished = { runId, ...r.run.result };
    });
  });
  await stack.killGateway(node);
  await until('the client to reconnect through the balancer', () => reconnected, 20_000);
  // The node's socket gauge follows the reconnect shortly after.
  let serving = -1;
  await until('a node to count the socket', async () => (serving = await servingNode()) >= 0);
  expect(serving).not.toBe(node);
  await until('run:finished', () => finished !== null, 30_000);

  const ordered = [...chunks].sort((a, b) => a.seq - b.seq);
  expect(ordered.map((c) => c.seq)).toEqual(ordered.map((_, i) => i + 1));
  expect(text(ordered)).toBe(expected);
  expect(finished!.verdict).toBe('OK');
  s.disconnect();
  await stack.startGateway(node); // the tests below need both nodes
}, 90_000);

/** Python printing `lines` lines tagged with `tag`, `gap` seconds apart. */
function tagged(tag: string, lines: number, gap: number): { source: string; expected: string } {
  return {
    source: `import time\nfor i in range(${lines}):\n    print(f"${tag} {i}", flush=True)\n    time.sleep(${gap})\n`,
    expected: Array.from({ length: lines }, (_, i) => `${tag} ${i}\n`).join(''),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sdkClient(name: string, role: Role = 'student'): Promise<CoderoomClient> {
  return CoderoomClient.connect(
    stack.url,
    { getToken: () => stack.token(name, role) },
    {
      // Long-polling first, then the upgrade, through the balancer: needs its sticky cookie.
      socketOptions: { withCredentials: true },
      reconnectionDelay: 200,
      reconnectionDelayMax: 1000,
    },
  );
}

/** The stored runs of users whose name starts with `prefix`, as MongoDB holds them. */
async function storedRuns(
  prefix: string,
): Promise<{ _id: string; status: string; result: { verdict: string } | null }[]> {
  const conn = await mongoose.createConnection(stack.mongoUri).asPromise();
  try {
    return await conn
      .collection<{ _id: string; status: string; result: { verdict: string } | null }>('runs')
      .find({ ownerName: { $regex: `^${prefix}` } })
      .project<{ _id: string; status: string; result: { verdict: string } | null }>({
        status: 1,
        result: 1,
      })
      .toArray();
  } finally {
    await conn.close();
  }
}

it(
  'streams a run started through node A to a watcher connected to node B',
  withLogs(
    () => stack,
    async () => {
      const token = await stack.token('across');
      const a = await stack.connect(token, { url: stack.urls[0] });
      const b = await stack.connect(token, { url: stack.urls[1] });
      const { source, expected: want } = tagged('x', 10, 0.1);
      const run = await startRun(a, { language: 'python', source });
      const seen: OutputChunk[] = [];
      b.on('run:output', (c) => c.runId === run.runId && seen.push(c));
      const w = await b.emitWithAck('run:watch', { runId: run.runId, afterSeq: 0 });
      if (!w.ok) throw new Error(JSON.stringify(w));
      seen.unshift(...(w as { ok: true } & RunWatchResult).backlog);
      await run.done(30_000);
      await until('the watcher on node B to get every line', () => text(seen) === want, 10_000);
      expect(seen.map((c) => c.seq)).toEqual(seen.map((_, i) => i + 1));
      a.disconnect();
      b.disconnect();
    },
  ),
  60_000,
);

it(
  'ends a run as SE when its worker is SIGKILLed, while the other worker keeps serving',
  withLogs(
    () => stack,
    async () => {
      const client = await sdkClient('sigkill', 'instructor');
      try {
        // Four slow runs fill both workers (two slots each), so one lands on worker 1.
        const slow = tagged('slow', 60, 0.1);
        const runs = await Promise.all(
          [0, 1, 2, 3].map(() => client.run({ language: 'python', source: slow.source })),
        );
        await until('all four running', () => runs.every((r) => r.lastSeq > 0), 30_000);
        await stack.stopWorker('SIGKILL', 1);
        const results = await Promise.all(runs.map((r) => r.result));
        const verdicts = results.map((r) => r.verdict).sort();
        // The killed worker's runs end as SE (found by the reaper of the living worker);
        // the living worker's runs go on to the end.
        expect(verdicts).toEqual(['OK', 'OK', 'SE', 'SE']);
        for (const r of runs.filter((_, i) => results[i].verdict === 'OK')) {
          expect(text(r.chunks)).toBe(slow.expected);
        }
        await stack.startWorker(1);
        const after = tagged('after', 1, 0);
        const next = await client.run({ language: 'python', source: after.source });
        expect((await next.result).verdict).toBe('OK');
        expect(text(next.chunks)).toBe(after.expected);
      } finally {
        client.close();
      }
    },
  ),
  120_000,
);

it(
  'restarts every gateway and every worker, one by one, while 20 clients keep running programs: no run is lost or stuck',
  withLogs(
    () => stack,
    async () => {
      const CLIENTS = 20;
      const clients = await Promise.all(
        Array.from({ length: CLIENTS }, (_, i) => sdkClient(`roller-${i}`)),
      );
      let stopping = false;
      let completed = 0;
      const problems: string[] = [];
      const refusals: Record<string, number> = {};
      const loop = async (client: CoderoomClient, i: number) => {
        for (let n = 0; !stopping; n++) {
          const program = tagged(`c${i}r${n}`, 4, 0.1);
          let run: Run;
          try {
            run = await client.run({ language: 'python', source: program.source });
          } catch (err) {
            // Refused (BUSY while a worker restarts, or the request was cut by a restart):
            // nothing was started that we know of; try again like a client would.
            const e = err as CoderoomError;
            refusals[e.code] = (refusals[e.code] ?? 0) + 1;
            await sleep(Math.min(e.retryAfterMs ?? 250, 2000));
            continue;
          }
          const end = await Promise.race([run.result, sleep(60_000).then(() => null)]);
          if (!end) problems.push(`${run.id}: no run:finished within 60 s`);
          else if (end.verdict !== 'OK') problems.push(`${run.id}: verdict ${end.verdict}`);
          else if (text(run.chunks) !== program.expected) {
            problems.push(`${run.id}: output ${JSON.stringify(text(run.chunks))}`);
          }
          completed++;
        }
      };
      const loops = clients.map((c, i) => loop(c, i));
      try {
        await until('the clients to be under way', () => completed >= CLIENTS, 60_000);
        for (let i = 0; i < stack.urls.length; i++) {
          const exit = await stack.stopGateway(i, 'SIGTERM');
          expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
          await stack.startGateway(i);
          await sleep(1000);
        }
        for (const i of [0, 1]) {
          const exit = await stack.stopWorker('SIGTERM', i);
          expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
          await stack.startWorker(i);
          await sleep(1000);
        }
        const afterRestarts = completed;
        await until(
          'runs to go on after the restarts',
          () => completed >= afterRestarts + CLIENTS,
          60_000,
        );
      } finally {
        stopping = true;
        await Promise.all(loops);
        clients.forEach((c) => c.close());
      }
      expect(problems).toEqual([]);
      // And nothing is left behind in the store: every run these clients started (including
      // any whose answer a restart cut off) ended, and ended well.
      await until(
        'every stored run to be finished',
        async () => (await storedRuns('roller-')).every((r) => r.status === 'finished'),
        30_000,
      );
      const stored = await storedRuns('roller-');
      expect(stored.length).toBeGreaterThanOrEqual(completed);
      expect(stored.filter((r) => r.result?.verdict !== 'OK')).toEqual([]);
      console.log(
        `rolling restart: ${completed} runs completed by ${CLIENTS} clients; refusals ${JSON.stringify(refusals)}`,
      );
    },
  ),
  300_000,
);

// Last: it restarts Redis.
it(
  'recovers from a Redis restart on its append-only file: queued runs survive and run, running runs end, new runs work',
  withLogs(
    () => stack,
    async () => {
      const client = await sdkClient('redis-restart', 'instructor');
      try {
        const slow = tagged('held', 40, 0.1);
        const running = await Promise.all(
          [0, 1, 2, 3].map(() => client.run({ language: 'python', source: slow.source })),
        );
        await until('four running', () => running.every((r) => r.lastSeq > 0), 30_000);
        // Every slot is taken: these two wait in the queue, which lives in Redis.
        const queued = await Promise.all(
          [0, 1].map(() => client.run({ language: 'python', source: 'print("queued")' })),
        );
        await stack.restartRedis();
        const ends = await Promise.all(
          [...running, ...queued].map((r) =>
            Promise.race([r.result, sleep(60_000).then(() => null)]),
          ),
        );
        expect(ends.every((e) => e !== null)).toBe(true);
        // The queue lives in Redis, which kept it in its append-only file: they ran.
        expect(ends.slice(4).map((e) => e!.verdict)).toEqual(['OK', 'OK']);
        for (const q of queued) expect(text(q.chunks)).toBe('queued\n');
        // The runs a worker held went on; their stored output is whole.
        for (let i = 0; i < 4; i++) {
          expect(['OK', 'SE']).toContain(ends[i]!.verdict);
          if (ends[i]!.verdict !== 'OK') continue;
          const res = await fetch(`${stack.url}/api/runs/${running[i].id}`, {
            headers: {
              authorization: `Bearer ${await stack.token('redis-restart', 'instructor')}`,
            },
          });
          const body = (await res.json()) as { output: OutputChunk[] };
          expect(text(body.output)).toBe(slow.expected);
        }
        // The service works again without a manual step.
        for (const u of [...stack.urls, stack.url]) {
          await until(`${u}/ready`, async () => (await fetch(`${u}/ready`)).ok, 30_000);
        }
        const after = tagged('again', 2, 0);
        const next = await client.run({ language: 'python', source: after.source });
        expect((await next.result).verdict).toBe('OK');
        expect(text(next.chunks)).toBe(after.expected);
        // The stored copies converge (on FerretDB a document write racing another can be lost
        // and is then repaired by the reconciler, within ~15 s).
        await until(
          'every stored run to be finished',
          async () => (await storedRuns('redis-restart')).every((r) => r.status === 'finished'),
          40_000,
        );
      } finally {
        client.close();
      }
    },
  ),
  180_000,
);
