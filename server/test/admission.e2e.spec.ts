import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { redisKeys, type RunJob } from '@coderoom/contracts';
import type { GatewayConfig } from '../src/config/config.js';
import { QuotaRepository, type AdmissionRequest } from '../src/repositories/quota.repository.js';
import { QueueRepository } from '../src/repositories/queue.repository.js';
import { RedisRepository } from '../src/repositories/redis.repository.js';

// The admission script's backpressure on a real Redis, with the queue and worker state set by
// hand: the slot formula, and the measured drain rate that overrides it when slots are full.

let redis: RedisRepository;
let raw: Redis;
let quota: QuotaRepository;
let config: GatewayConfig;
const WAIT = 'test:admission:wait';
const PRIORITIZED = 'test:admission:prioritized';
/** Where a job's hash lives (+ its id), as BullMQ's `bull:<queue>:<id>`. */
const JOB = 'test:admission:job:';

beforeAll(async () => {
  if (!process.env.REDIS_URL) throw new Error('REDIS_URL is not set (see README: Development)');
  const url = new URL(process.env.REDIS_URL);
  url.pathname = '/21';
  config = { redisUrl: url.toString(), replayTtlSeconds: 60 } as GatewayConfig;
  redis = new RedisRepository(config);
  await redis.connected();
  raw = redis.client;
  await raw.flushdb();
  const queue = {
    keys: { wait: WAIT, prioritized: PRIORITIZED, job: JOB },
  } as unknown as QueueRepository;
  quota = new QuotaRepository(redis, queue, config);
});

afterAll(async () => {
  await redis?.onApplicationShutdown();
});

const request = (): AdmissionRequest => ({
  runId: randomUUID(),
  userId: `u-${randomUUID()}`,
  sessionId: null,
  limits: { concurrent: 10, perMinute: 100, perDay: 1000 },
  busyWaitMs: 1000,
  assumedRunMs: 1000,
  origin: {
    ownerId: 'u',
    language: 'python',
    mode: 'run',
    interactive: false,
    createdAt: new Date().toISOString(),
    sessionId: null,
    problemId: null,
  },
});

it('refuses with BUSY when runs finish slower than the slots promise, once every slot is busy', async () => {
  // One live worker with 4 slots, 100 ms runs, 8 runs waiting: (8 + 1) x 100 / 4 = 225 ms.
  await raw.sadd(redisKeys.workers, 'w1');
  await raw.set(redisKeys.workerCapacity('w1'), 4);
  await raw.set(redisKeys.runMsAverage, 100);
  await raw.lpush(WAIT, ...Array.from({ length: 8 }, (_, i) => `job-${i}`));
  const first = request();
  expect(await quota.admit(first)).toMatchObject({ outcome: 'admitted' });
  await quota.enqueued(first.runId); // (its job is not in this test's queue)

  // But only 5 runs finished in the last 10 s (0.5/s): 9 runs take ~18 s to drain.
  const now = Math.floor(Date.now() / 1000);
  for (let s = now - 5; s < now; s++) await raw.set(redisKeys.runsFinishedIn(s), 1, 'EX', 60);
  const busy = await quota.admit(request());
  expect(busy).toMatchObject({ outcome: 'busy', waiting: 8 });
  expect((busy as { expectedWaitMs: number }).expectedWaitMs).toBeGreaterThan(15_000);

  // With fewer runs waiting than slots the rate says nothing (the queue is not the limit).
  await raw.del(WAIT);
  await raw.lpush(WAIT, 'job-a', 'job-b');
  expect(await quota.admit(request())).toMatchObject({ outcome: 'admitted' });
});

it('counts runs admitted but not enqueued yet as waiting once the slots are full: a burst cannot overfill the queue', async () => {
  await raw.flushdb();
  // One live worker with 4 slots, 1 s runs, an empty queue, and runs finishing at 1/s (the
  // measured drain rate): (n + 1) x 10000 / 10 <= 5000 ms admits while fewer than 5 wait.
  await raw.sadd(redisKeys.workers, 'w1');
  await raw.set(redisKeys.workerCapacity('w1'), 4);
  await raw.set(redisKeys.runMsAverage, 1000);
  const now = Math.floor(Date.now() / 1000);
  for (let s = now - 10; s < now; s++) await raw.set(redisKeys.runsFinishedIn(s), 1, 'EX', 60);
  const burst = Array.from({ length: 40 }, () => ({ ...request(), busyWaitMs: 5000 }));
  // 40 run:starts at once: every admission happens before any enqueue (as on a busy gateway).
  const answers = await Promise.all(burst.map((r) => quota.admit(r)));
  const admitted = answers.filter((a) => a.outcome === 'admitted').length;
  expect(admitted).toBe(5);
  expect(answers.filter((a) => a.outcome === 'busy')).toHaveLength(35);
  expect(await raw.zcard(redisKeys.admitting)).toBe(5);

  // Once they are in the queue they count there instead, not twice: also in the moment between
  // the job's add and its gateway's ZREM (a CI run had two runs refused for each other there).
  const ids = burst.filter((_, i) => answers[i].outcome === 'admitted').map((r) => r.runId);
  await raw.lpush(WAIT, ...ids);
  for (const id of ids) await raw.hset(`${JOB}${id}`, 'name', 'run');
  expect(await quota.admit({ ...request(), busyWaitMs: 5000 })).toMatchObject({
    outcome: 'busy',
    waiting: 5,
  });
  expect(await raw.zcard(redisKeys.admitting)).toBe(0);
  await Promise.all(ids.map((id) => quota.enqueued(id)));
  expect(await quota.admit({ ...request(), busyWaitMs: 5000 })).toMatchObject({
    outcome: 'busy',
    waiting: 5,
  });

  // With slots free, runs admitted together are not refused for each other.
  await raw.del(WAIT);
  const pair = await Promise.all([request(), request()].map((r) => quota.admit(r)));
  expect(pair.map((a) => a.outcome)).toEqual(['admitted', 'admitted']);

  // An admission whose gateway died before the enqueue stops counting after 30 s.
  await raw.del(redisKeys.admitting);
  await raw.zadd(
    redisKeys.admitting,
    ...Array.from({ length: 8 }, (_, i) => [Date.now() - 31_000, `lost-${i}`]).flat(),
  );
  expect(await quota.admit({ ...request(), busyWaitMs: 5000 })).toMatchObject({
    outcome: 'admitted',
  });
  expect(await raw.zscore(redisKeys.admitting, 'lost-0')).toBeNull();
});

it("knows a run is in the queue by its BullMQ job, before its gateway's ZREM", async () => {
  await raw.flushdb();
  // The real queue and QueueRepository, so the job key the script looks for is BullMQ's own.
  const bull = new Queue<RunJob>('admission-test', { connection: raw });
  const queue = new QueueRepository(bull, redis);
  const real = new QuotaRepository(redis, queue, config);
  try {
    // One slot, 1 s runs, 10 runs finished in the last 10 s (1/s).
    await raw.sadd(redisKeys.workers, 'w1');
    await raw.set(redisKeys.workerCapacity('w1'), 1);
    await raw.set(redisKeys.runMsAverage, 1000);
    const now = Math.floor(Date.now() / 1000);
    for (let s = now - 10; s < now; s++) await raw.set(redisKeys.runsFinishedIn(s), 1, 'EX', 60);
    const first = request();
    expect(await real.admit(first)).toMatchObject({ outcome: 'admitted' });
    await queue.enqueue(
      {
        runId: first.runId,
        ownerId: first.userId,
        language: 'python',
        mode: 'run',
        files: [{ path: 'main.py', content: 'print(1)' }],
        stdin: '',
        interactive: false,
      },
      1,
    );
    // Its gateway has not said `enqueued` yet: one run waits, (1 + 1) x 1000 = 2 s. Counted
    // twice (queue and admitting) it would be 3 s, over this bound.
    expect(await raw.zscore(redisKeys.admitting, first.runId)).not.toBeNull();
    expect(await real.admit({ ...request(), busyWaitMs: 2500 })).toMatchObject({
      outcome: 'admitted',
    });
    expect(await raw.zscore(redisKeys.admitting, first.runId)).toBeNull();
  } finally {
    await bull.close();
  }
});
