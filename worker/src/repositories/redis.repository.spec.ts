import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { redisKeys, type RunResult } from '@coderoom/contracts';
import type { WorkerConfig } from '../config/config.js';
import { RedisRepository } from './redis.repository.js';

// The worker's Lua scripts against a real Redis (database 17 of REDIS_URL).

/** The run's sharded feed channel, on which the finish script announces the end. */
const CHANNEL = redisKeys.feedChannel('r');
if (!process.env.REDIS_URL) {
  throw new Error(
    'REDIS_URL is not set: run the tests with "npm test", or export what "node deploy/local/stack.mjs infra" prints',
  );
}
const url = new URL(process.env.REDIS_URL);
url.pathname = '/17';
const result: RunResult = {
  verdict: 'OK',
  exitCode: 0,
  signal: null,
  timeMs: 12,
  memoryKb: 4000,
  truncated: false,
};

let repo: RedisRepository;
let redis: Redis;
let listener: Redis;
let published: string[];

/** Everything published so far has reached the subscriber: a marker sent after it did. */
async function delivered(): Promise<string[]> {
  const marker = `marker-${Math.random()}`;
  await redis.spublish(CHANNEL, marker);
  for (let i = 0; i < 200 && !published.includes(marker); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return published.filter((m) => m !== marker);
}

beforeAll(async () => {
  repo = new RedisRepository({ redisUrl: url.toString() } as WorkerConfig);
  redis = new Redis(url.toString());
  listener = new Redis(url.toString());
  listener.on('smessage', (_channel: string, message: string) => published.push(message));
  await listener.ssubscribe(CHANNEL);
});
afterAll(async () => {
  await repo.onApplicationShutdown();
  await Promise.all([redis.quit(), listener.quit()]);
});
beforeEach(async () => {
  await redis.flushdb();
  published = [];
});

describe('preRunCheck', () => {
  it('says ok for a queued run, cancelled when a cancel waits, taken once started or ended', async () => {
    await redis.hset(redisKeys.state('a'), 'status', 'queued');
    expect(await repo.preRunCheck('a')).toBe('ok');
    await redis.set(redisKeys.cancel('a'), '1');
    expect(await repo.preRunCheck('a')).toBe('cancelled');
    await redis.hset(redisKeys.state('b'), 'status', 'running');
    expect(await repo.preRunCheck('b')).toBe('taken');
    await redis.set(redisKeys.finished('c'), '1');
    expect(await repo.preRunCheck('c')).toBe('taken');
  });
});

describe('finishRun', () => {
  const at = new Date('2026-12-04T15:00:00.123Z');
  it('claims, stores the result, frees both slots and publishes run:finished, all at once', async () => {
    await redis.hset(redisKeys.state('r'), { status: 'running', sessionSlots: 'sess-slots' });
    await redis.zadd(redisKeys.active('alice'), 1, 'r', 1, 'other');
    await redis.zadd('sess-slots', 1, 'r');
    expect(await repo.finishRun('r', 'alice', result, 'worker:x', 60, at)).toBe('claimed');
    expect(await redis.hgetall(redisKeys.state('r'))).toMatchObject({
      status: 'finished',
      result: JSON.stringify(result),
      finishedAt: at.toISOString(),
    });
    expect(await redis.ttl(redisKeys.state('r'))).toBeGreaterThan(0);
    expect(await redis.zrange(redisKeys.active('alice'), 0, -1)).toEqual(['other']);
    expect(await redis.zcard('sess-slots')).toBe(0);
    const messages = await delivered();
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0])).toEqual({
      kind: 'run:finished',
      event: { runId: 'r', ...result },
    });
  });

  it('is safe to repeat with the same claimer (a lost reply): no second announcement', async () => {
    expect(await repo.finishRun('r', 'alice', result, 'worker:x', 60, at)).toBe('claimed');
    expect(await repo.finishRun('r', 'alice', result, 'worker:x', 60, at)).toBe('already');
    expect(await delivered()).toHaveLength(1);
  });

  it('leaves a run that someone else ended (a cancel, the reaper) alone', async () => {
    await redis.set(redisKeys.finished('r'), '1');
    await redis.hset(redisKeys.state('r'), 'status', 'finished');
    expect(await repo.finishRun('r', 'alice', result, 'worker:x', 60, at)).toBe('lost');
    expect(await redis.hget(redisKeys.state('r'), 'result')).toBeNull();
    expect(await delivered()).toHaveLength(0);
  });
});

describe('publish', () => {
  const chunk = (runId: string, seq: number) => ({
    kind: 'run:output' as const,
    event: { runId, seq, stream: 'stdout' as const, data: `${runId}#${seq}` },
  });

  it("sends a run's events on that run's channel only, in order", async () => {
    repo.publish(chunk('r', 1));
    repo.publish(chunk('other', 1));
    repo.publish(chunk('r', 2));
    // Same connection as the publishes: once it answers, they have been handled by Redis.
    expect(await repo.ping()).toBe(true);
    const messages = (await delivered()).map((m) => JSON.parse(m) as unknown);
    expect(messages).toEqual([chunk('r', 1), chunk('r', 2)]);
  });
});
