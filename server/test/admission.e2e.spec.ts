import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { redisKeys } from '@coderoom/contracts';
import type { GatewayConfig } from '../src/config/config.js';
import { QuotaRepository, type AdmissionRequest } from '../src/repositories/quota.repository.js';
import type { QueueRepository } from '../src/repositories/queue.repository.js';
import { RedisRepository } from '../src/repositories/redis.repository.js';

// The admission script's backpressure on a real Redis, with the queue and worker state set by
// hand: the slot formula, and the measured drain rate that overrides it when slots are full.

let redis: RedisRepository;
let raw: Redis;
let quota: QuotaRepository;
const WAIT = 'test:admission:wait';
const PRIORITIZED = 'test:admission:prioritized';

beforeAll(async () => {
  if (!process.env.REDIS_URL) throw new Error('REDIS_URL is not set (see README: Development)');
  const url = new URL(process.env.REDIS_URL);
  url.pathname = '/21';
  const config = { redisUrl: url.toString(), replayTtlSeconds: 60 } as GatewayConfig;
  redis = new RedisRepository(config);
  await redis.connected();
  raw = redis.client;
  await raw.flushdb();
  const queue = { keys: { wait: WAIT, prioritized: PRIORITIZED } } as unknown as QueueRepository;
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
  expect(await quota.admit(request())).toMatchObject({ outcome: 'admitted' });

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
