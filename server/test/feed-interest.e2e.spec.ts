import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  redisKeys,
  type OutputChunk,
  type RunFinishedEvent,
  type RunWatchResult,
} from '@coderoom/contracts';
import { startRun, startStack, text, until, type ClientSocket, type Stack } from './harness.js';

// A run's feed reaches only the gateway nodes that have watchers of it (a sharded Redis channel
// per run), and every guarantee of the feed holds across nodes: watchers on several nodes, a node
// that joins mid-run, unwatch and re-watch, resume on another node, exactly one run:finished.

let stack: Stack;
let redis: Redis;
let token: string;

const LINES = 30;
const source = (lines: number, ms: number) =>
  `import time\nfor i in range(${lines}):\n    print(f"line {i:03d}", flush=True)\n    time.sleep(${ms / 1000})\n`;
const expected = (lines: number) =>
  Array.from({ length: lines }, (_, i) => `line ${String(i).padStart(3, '0')}\n`).join('');

beforeAll(async () => {
  stack = await startStack({
    name: 'feed-interest',
    redisDb: 60,
    gateways: 3,
    // The cancel test below fills both slots to keep a run in the queue.
    workerEnv: { WORKER_CONCURRENCY: '2' },
    // ... and that run must be queued, not refused: on a loaded machine the runs before it are
    // slow, and (2 waiting + 1) x their average over 2 slots went past the default 5 s (BUSY).
    gatewayEnv: { BUSY_WAIT_MS: '600000' },
  });
  redis = new Redis(stack.redisUrl);
  token = await stack.token('fiona', 'admin');
}, 120_000);

afterAll(async () => {
  await redis?.quit();
  await stack?.stop();
}, 30_000);

/** How many gateway nodes listen to a run's feed channel (pub/sub is global in Redis). */
async function nodesListening(runId: string): Promise<number> {
  const reply = (await redis.call('PUBSUB', 'SHARDNUMSUB', redisKeys.feedChannel(runId))) as [
    string,
    number,
  ];
  return Number(reply[1]);
}

/** Everything one socket receives of one run: chunks (backlog and live) and run:finished events. */
interface Watcher {
  chunks: OutputChunk[];
  finished: RunFinishedEvent[];
}

function record(s: ClientSocket, runId: string): Watcher {
  const w: Watcher = { chunks: [], finished: [] };
  s.on('run:output', (c) => c.runId === runId && w.chunks.push(c));
  s.on('run:finished', (e) => e.runId === runId && w.finished.push(e));
  return w;
}

async function watch(s: ClientSocket, w: Watcher, runId: string, afterSeq: number) {
  const ack = await s.emitWithAck('run:watch', { runId, afterSeq });
  if (!ack.ok) throw new Error(JSON.stringify(ack));
  const { backlog, run } = ack as { ok: true } & RunWatchResult;
  w.chunks.push(...backlog);
  if (run.result) w.finished.push({ runId, ...run.result });
  return run;
}

/**
 * Waits until a later run of the same sockets has ended: every event of the earlier run was
 * published before it, so anything duplicated would have arrived by then.
 */
async function barrier(s: ClientSocket[]): Promise<void> {
  const run = await startRun(s[0], { language: 'python', source: 'print("barrier")' });
  for (const other of s.slice(1)) {
    const w = record(other, run.runId);
    await watch(other, w, run.runId, 0);
    await until('the barrier run on every socket', () => w.finished.length > 0, 20_000);
  }
  await run.done();
}

const seqs = (chunks: OutputChunk[]) => chunks.map((c) => c.seq);
const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

it('delivers a run to watchers on three nodes, joining at different moments, each chunk once', async () => {
  const [a, b, c] = await Promise.all(stack.urls.map((url) => stack.connect(token, { url })));
  const run = await startRun(a, { language: 'python', source: source(LINES, 60) });
  // The owner's node listened before the run was enqueued (the ack came after); nobody else does.
  expect(await nodesListening(run.runId)).toBe(1);
  const onB = record(b, run.runId);
  await watch(b, onB, run.runId, 0);
  expect(await nodesListening(run.runId)).toBe(2);
  await until('output under way', () => run.outputs.length >= 8, 20_000);
  // Node C joins interest mid-run, from seq 3 on (it holds 1 and 2 from elsewhere).
  const onC = record(c, run.runId);
  const summary = await watch(c, onC, run.runId, 2);
  expect(summary.status).toBe('running');
  expect(await nodesListening(run.runId)).toBe(3);
  const done = await run.done();
  await until('run:finished on B and C', () => onB.finished.length + onC.finished.length >= 2);
  await barrier([a, b, c]);

  expect(text(done.outputs)).toBe(expected(LINES));
  const last = done.outputs[done.outputs.length - 1].seq;
  expect(seqs(done.outputs)).toEqual(oneToN(last));
  expect(seqs(onB.chunks)).toEqual(oneToN(last));
  expect(seqs(onC.chunks)).toEqual(oneToN(last).slice(2));
  expect(onB.finished).toHaveLength(1);
  expect(onC.finished).toHaveLength(1);
  expect(onB.finished[0]).toEqual(done.finished);
  // The run is over: no node listens to its channel any more.
  await until(
    'no node listening after the end',
    async () => (await nodesListening(run.runId)) === 0,
  );
  for (const s of [a, b, c]) s.disconnect();
}, 90_000);

it('stops listening on a node whose watchers left, and resumes exactly on re-watch or on another node', async () => {
  const [a, b, c] = await Promise.all(stack.urls.map((url) => stack.connect(token, { url })));
  const run = await startRun(a, { language: 'python', source: source(LINES, 60) });
  const onB = record(b, run.runId);
  await watch(b, onB, run.runId, 0);
  await until('output on B', () => onB.chunks.length >= 4, 20_000);
  expect(await nodesListening(run.runId)).toBe(2);

  // B unwatches: its node stops listening, and B receives nothing more of the run.
  expect(await b.emitWithAck('run:unwatch', { runId: run.runId })).toEqual({ ok: true });
  await until('B node no longer listening', async () => (await nodesListening(run.runId)) === 1);
  const heldByB = onB.chunks.length;
  await until('more output meanwhile', () => run.outputs.length >= heldByB + 4, 20_000);
  expect(onB.chunks).toHaveLength(heldByB);

  // B comes back from where it stopped: nothing missed, nothing twice.
  await watch(b, onB, run.runId, onB.chunks[heldByB - 1].seq);
  // The owner's socket goes away and its client resumes on node C from its last seq.
  const ownerHeld = [...run.outputs];
  a.disconnect();
  await until('A node no longer listening', async () => (await nodesListening(run.runId)) === 1);
  const onC: Watcher = { chunks: [...ownerHeld], finished: [] };
  const listen = record(c, run.runId);
  await watch(c, listen, run.runId, ownerHeld[ownerHeld.length - 1].seq);
  await until('run:finished on B and C', () => onB.finished.length + listen.finished.length >= 2);
  onC.chunks.push(...listen.chunks);
  await barrier([b, c]);

  const last = onB.chunks[onB.chunks.length - 1].seq;
  expect(seqs(onB.chunks)).toEqual(oneToN(last));
  expect(seqs(onC.chunks)).toEqual(oneToN(last));
  expect(text(onC.chunks)).toBe(expected(LINES));
  expect(onB.finished).toHaveLength(1);
  expect(listen.finished).toHaveLength(1);
  expect(listen.finished[0].verdict).toBe('OK');
  b.disconnect();
  c.disconnect();
}, 90_000);

it('gives a node without watchers of a run nothing of it, and ends a cancelled queued run once', async () => {
  const [a, , c] = await Promise.all(stack.urls.map((url) => stack.connect(token, { url })));
  const seenOnC: string[] = [];
  c.onAny((event: string, payload: { runId?: string }) =>
    seenOnC.push(`${event} ${payload.runId}`),
  );
  // Fill the worker's slots so the last run waits in the queue, then cancel it (the gateway
  // publishes its run:finished).
  const busy = await Promise.all(
    [0, 1].map(() => startRun(a, { language: 'python', source: source(10, 100) })),
  );
  const queued = await startRun(a, { language: 'python', source: 'print("never")' });
  expect(queued.ack).toMatchObject({ ok: true, status: 'queued' });
  const ended: RunFinishedEvent[] = [];
  a.on('run:finished', (e) => e.runId === queued.runId && ended.push(e));
  expect(await a.emitWithAck('run:cancel', { runId: queued.runId })).toEqual({ ok: true });
  await until('the cancelled run ended', () => ended.length > 0, 20_000);
  const cancelled = await queued.done();
  for (const r of busy) await r.done();
  await barrier([a]);
  expect(ended).toHaveLength(1);
  expect(ended[0].verdict).toBe('CANCELLED');
  // It never left the queue: the gateway, not a worker, announced its end.
  expect(cancelled.statuses.map((e) => e.status)).toEqual(cancelled.statuses.map(() => 'queued'));
  expect(seenOnC).toEqual([]);
  for (const r of [...busy, queued]) expect(await nodesListening(r.runId)).toBe(0);
  // Every admitted run reached the queue: none still counts as being enqueued.
  expect(await redis.zcard(redisKeys.admitting)).toBe(0);
  a.disconnect();
  c.disconnect();
}, 90_000);
