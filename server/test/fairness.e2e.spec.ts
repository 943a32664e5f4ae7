import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { OutputChunk, RunStartPayload, RunStatusEvent, RunSummary } from '@coderoom/contracts';
import {
  startRun,
  startStack,
  text,
  until,
  type ClientSocket,
  type Stack,
  type StartedRun,
} from './harness.js';

/**
 * Fair share in the run queue: one worker slot, held by a "blocker" run while the queue fills,
 * so that the order in which the queued runs then start is the queue's order.
 */
let stack: Stack;
let redis: Redis;
/** Every run:status any socket of this file received, in arrival order. */
const statuses: RunStatusEvent[] = [];

beforeAll(async () => {
  stack = await startStack({
    name: 'fairness',
    redisDb: 16,
    gatewayEnv: {
      RUN_QUOTAS: JSON.stringify({ student: { concurrent: 20, perMinute: 200 } }),
      BUSY_WAIT_MS: '600000',
    },
    workerEnv: { WORKER_CONCURRENCY: '1', RUN_WALL_MS: '30000' },
  });
  redis = new Redis(stack.redisUrl);
}, 90_000);

afterAll(async () => {
  if (process.env.DEBUG_LOGS) console.log(stack?.logs());
  await redis?.quit();
  await stack?.stop();
}, 30_000);

async function user(name: string): Promise<ClientSocket> {
  const s = await stack.connect(await stack.token(name));
  s.on('run:status', (e) => statuses.push(e));
  return s;
}

const py = (line: string, extra: Partial<RunStartPayload> = {}): RunStartPayload => ({
  language: 'python',
  source: line,
  ...extra,
});

/** A real session (runs naming one need its members) with these members; its id. */
async function session(...members: ClientSocket[]): Promise<string> {
  const teacher = await stack.connect(
    await stack.token(`t-${statuses.length}-${Date.now()}`, 'instructor'),
  );
  const created = await teacher.emitWithAck('session:create', { title: 'lab' });
  if (!created.ok) throw new Error(`session:create: ${JSON.stringify(created)}`);
  for (const m of members) {
    const joined = await m.emitWithAck('session:join', { joinCode: created.session.joinCode! });
    if (!joined.ok) throw new Error(`session:join: ${JSON.stringify(joined)}`);
  }
  teacher.disconnect();
  return created.session.sessionId;
}

async function started(s: ClientSocket, payload: RunStartPayload): Promise<StartedRun> {
  const run = await startRun(s, payload);
  if (!run.ack.ok) throw new Error(`run:start refused: ${JSON.stringify(run.ack)}`);
  return run;
}

/** The last queue position the run's watchers were told (ack or run:status). */
const positionOf = (runId: string): number | undefined =>
  statuses.filter((e) => e.runId === runId && e.status === 'queued').pop()?.position;

/** The runs in the order they started (the worker's time of their first step past queued). */
const startOrder = (runIds: string[]): string[] =>
  runIds
    .map((runId) => ({
      runId,
      at: statuses.find((e) => e.runId === runId && e.status !== 'queued')?.at,
    }))
    .sort((x, y) => (x.at ?? '').localeCompare(y.at ?? ''))
    .map((r) => r.runId);

/** Starts a run that holds the only worker slot until released (it reads stdin to its end). */
async function hold(name: string): Promise<{ release(): Promise<void> }> {
  const s = await user(name);
  const run = await started(s, py('import sys\nsys.stdin.read()', { interactive: true }));
  await until('the blocker to run', () =>
    statuses.some((e) => e.runId === run.runId && e.status === 'running'),
  );
  return {
    async release() {
      await s.emitWithAck('run:input', { runId: run.runId, data: '', eof: true });
      expect((await run.done(30_000)).finished.verdict).toBe('OK');
    },
  };
}

it("starts another user's first run before a flooding user's second and later runs, and tells every queued run its true place", async () => {
  const blocker = await hold('f-block');
  const alice = await user('f-alice');
  const bob = await user('f-bob');
  const flood: StartedRun[] = [];
  for (let i = 1; i <= 5; i++) flood.push(await started(alice, py(`print("a${i}")`)));
  const single = await started(bob, py('print("b")'));
  // Alice's n-th active run has priority n; Bob's first has priority 1, behind Alice's first.
  expect(flood.map((r) => r.ack.ok && r.ack.position)).toEqual([1, 2, 3, 4, 5]);
  expect(single.ack).toMatchObject({ ok: true, position: 2 });
  const expected = [flood[0], single, ...flood.slice(1)].map((r) => r.runId);
  // Alice's runs behind Bob's are told that they moved back by one.
  await until(
    'every queued run to know its place',
    () => expected.every((id, i) => positionOf(id) === i + 1),
    10_000,
  );
  const told = statuses.length;
  await blocker.release();
  const ends = await Promise.all([...flood, single].map((r) => r.done(60_000)));
  expect(ends.map((e) => e.finished.verdict)).toEqual(Array(6).fill('OK'));
  expect(startOrder(expected)).toEqual(expected);
  // While the queue drained, places only went down.
  for (const id of expected) {
    const later = statuses.slice(told).filter((e) => e.runId === id && e.status === 'queued');
    const places = later.map((e) => e.position!);
    expect([...places].sort((x, y) => y - x)).toEqual(places);
  }
}, 120_000);

it('cancels a queued run that waits with a priority, and the runs behind it move up', async () => {
  const blocker = await hold('c-block');
  const carol = await user('c-carol');
  const runs: StartedRun[] = [];
  for (let i = 1; i <= 3; i++) runs.push(await started(carol, py(`print("c${i}")`)));
  const [first, second, third] = runs;
  expect(runs.map((r) => r.ack.ok && r.ack.position)).toEqual([1, 2, 3]);
  expect(await carol.emitWithAck('run:cancel', { runId: second.runId })).toEqual({ ok: true });
  expect((await second.done(10_000)).finished.verdict).toBe('CANCELLED');
  await until('the last run to move up', () => positionOf(third.runId) === 2, 10_000);
  await blocker.release();
  expect((await first.done(30_000)).finished.verdict).toBe('OK');
  expect((await third.done(30_000)).finished.verdict).toBe('OK');
  expect(statuses.some((e) => e.runId === second.runId && e.status !== 'queued')).toBe(false);
}, 90_000);

it("keeps one user's runs in the order they came when earlier ones end: a later run never overtakes a queued one", async () => {
  const blocker = await hold('o-block');
  const olga = await user('o-olga');
  const runs: StartedRun[] = [];
  for (let i = 1; i <= 3; i++) runs.push(await started(olga, py(`print("o${i}")`)));
  const [first, second, third] = runs;
  // The first two end (cancelled while queued): Olga has one active run left, the third,
  // queued with priority 3. Her next run's rank is 2, but it must not go before the third.
  for (const r of [first, second]) {
    expect(await olga.emitWithAck('run:cancel', { runId: r.runId })).toEqual({ ok: true });
    expect((await r.done(10_000)).finished.verdict).toBe('CANCELLED');
  }
  const fourth = await started(olga, py('print("o4")'));
  expect(await redis.hget(`coderoom:run:${fourth.runId}:state`, 'priority')).toBe('3');
  expect(fourth.ack).toMatchObject({ ok: true, position: 2 });
  // Another user's first run still goes ahead of both (fair share between users is kept).
  const other = await started(await user('o-oscar'), py('print("x")'));
  expect(other.ack).toMatchObject({ ok: true, position: 1 });
  await blocker.release();
  for (const r of [third, fourth, other]) {
    expect((await r.done(30_000)).finished.verdict).toBe('OK');
  }
  const expected = [other, third, fourth].map((r) => r.runId);
  expect(startOrder(expected)).toEqual(expected);
  // Once nothing of Olga's is queued, her rank alone counts again.
  const alone = await started(olga, py('print("o5")'));
  expect(await redis.hget(`coderoom:run:${alone.runId}:state`, 'priority')).toBe('1');
  expect((await alone.done(30_000)).finished.verdict).toBe('OK');
}, 90_000);

it("keeps a session's runs in the order they came, across its members, when earlier ones end", async () => {
  const blocker = await hold('q-block');
  const [quinn, rosa] = await Promise.all(['q-quinn', 'q-rosa'].map((n) => user(n)));
  const lab = { sessionId: await session(quinn, rosa) };
  const q1 = await started(quinn, py('print(1)', lab)); // session rank 1
  const q2 = await started(quinn, py('print(2)', lab)); // 2
  const r1 = await started(rosa, py('print(3)', lab)); // 3
  for (const r of [q1, q2]) {
    expect(await quinn.emitWithAck('run:cancel', { runId: r.runId })).toEqual({ ok: true });
    expect((await r.done(10_000)).finished.verdict).toBe('CANCELLED');
  }
  // Session rank 2 and Quinn's rank 1 now, but Rosa's run (3) is still queued: behind it.
  const q3 = await started(quinn, py('print(4)', lab));
  expect(await redis.hget(`coderoom:run:${q3.runId}:state`, 'priority')).toBe('3');
  expect(q3.ack).toMatchObject({ ok: true, position: 2 });
  await blocker.release();
  for (const r of [r1, q3]) expect((await r.done(30_000)).finished.verdict).toBe('OK');
  expect(startOrder([q3.runId, r1.runId])).toEqual([r1.runId, q3.runId]);
}, 90_000);

it('counts a session as one user towards everyone else, and frees its slots when runs end', async () => {
  const blocker = await hold('s-block');
  const [one, two, dana, eve] = await Promise.all(
    ['s-one', 's-two', 's-dana', 's-eve'].map((n) => user(n)),
  );
  const lab = { sessionId: await session(one, two) };
  const lab2 = await session(eve);
  const oneA = await started(one, py('print(1)', lab)); // session rank 1: priority 1
  const oneB = await started(one, py('print(2)', lab)); // 2
  const twoA = await started(two, py('print(3)', lab)); // two's first, but the session's 3rd: 3
  const twoB = await started(two, py('print(4)', lab)); // 4
  const outside = await started(dana, py('print(5)')); // 1
  const otherLab = await started(eve, py('print(6)', { sessionId: lab2 })); // 1
  expect(await redis.zcard(`coderoom:session:${lab.sessionId}:active`)).toBe(4);
  const expected = [oneA, outside, otherLab, oneB, twoA, twoB].map((r) => r.runId);
  await until(
    'every queued run to know its place',
    () => expected.every((id, i) => positionOf(id) === i + 1),
    10_000,
  );
  await blocker.release();
  const all = [oneA, oneB, twoA, twoB, outside, otherLab];
  for (const r of all) expect((await r.done(60_000)).finished.verdict).toBe('OK');
  expect(startOrder(expected)).toEqual(expected);
  // Ended runs hold no slot any more: the session's next run is its only active one, and the
  // users' slots were all given back.
  const next = await started(one, py('print(7)', lab));
  expect(await redis.zrange(`coderoom:session:${lab.sessionId}:active`, 0, -1)).toEqual([
    next.runId,
  ]);
  expect((await next.done(30_000)).finished.verdict).toBe('OK');
  await until(
    'no user slot left',
    async () => (await redis.keys('coderoom:user:*:active')).length === 0,
  );
}, 120_000);

it('repairs a session slot whose release was missed: a run that ended counts no more', async () => {
  const pat = await user('p-pat');
  const lab = await session(pat);
  const slots = `coderoom:session:${lab}:active`;
  const leaseEnd = Date.now() + 600_000;
  // Two slots nobody released: one of a run that ended (its finished guard is set), one of a
  // run that still holds its slot as far as Redis can tell.
  await redis.zadd(slots, leaseEnd, 'ended-run', leaseEnd, 'live-run');
  await redis.set('coderoom:run:ended-run:finished', '1', 'EX', 60);
  const run = await started(pat, py('print(1)', { sessionId: lab }));
  expect((await redis.zrange(slots, 0, -1)).sort()).toEqual(['live-run', run.runId].sort());
  expect((await run.done(30_000)).finished.verdict).toBe('OK');
  await redis.del(slots);
}, 60_000);

it('answers input, watch and GET for a run straight after its ack, before its document may be stored', async () => {
  const token = await stack.token('r-rita');
  const rita = await stack.connect(token);
  const run = await started(
    rita,
    py('import sys\nprint(sys.stdin.read().upper())', { interactive: true }),
  );
  const [input, watch, got] = await Promise.all([
    rita.emitWithAck('run:input', { runId: run.runId, data: 'hi', eof: true }),
    rita.emitWithAck('run:watch', { runId: run.runId, afterSeq: 0 }),
    fetch(`${stack.url}/api/runs/${run.runId}`, { headers: { authorization: `Bearer ${token}` } }),
  ]);
  expect(input).toEqual({ ok: true });
  expect(watch).toMatchObject({ ok: true, run: { runId: run.runId, language: 'python' } });
  expect(got.status).toBe(200);
  expect((await got.json()) as { run: RunSummary }).toMatchObject({ run: { runId: run.runId } });
  expect(text((await run.done(30_000)).outputs)).toBe('HI\n');
  const after = await fetch(`${stack.url}/api/runs/${run.runId}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await after.json()) as { run: RunSummary; output: OutputChunk[] };
  expect(body.run).toMatchObject({ status: 'finished', result: { verdict: 'OK' } });
  expect(text(body.output)).toBe('HI\n');
}, 60_000);
