import { Injectable } from '@nestjs/common';
import { redisKeys } from '@coderoom/contracts';
import { RedisRepository } from './redis.repository.js';

/**
 * Atomically, for one user: forget active slots whose lease ran out (a run lost with a crashed
 * worker), then check the concurrent, per-minute and per-day limits, and only if all pass take
 * a slot and count the run. Returns {1} or {0, which limit, ms until it frees up}.
 */
const ADMIT = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return {0, 'concurrent', 1000}
end
local minute = tonumber(redis.call('GET', KEYS[2]) or '0')
if minute >= tonumber(ARGV[6]) then
  return {0, 'minute', redis.call('PTTL', KEYS[2])}
end
local day = tonumber(redis.call('GET', KEYS[3]) or '0')
if day >= tonumber(ARGV[7]) then
  return {0, 'day', redis.call('PTTL', KEYS[3])}
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[8]) end
if redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[9]) end
return {1}
`;

/** A slot is held at most this long even if nobody releases it. */
const LEASE_MS = 10 * 60 * 1000;
const MINUTE = 60_000;
const DAY = 86_400_000;

export type Admission =
  { ok: true } | { ok: false; limit: 'concurrent' | 'minute' | 'day'; retryAfterMs: number };

export interface QuotaLimits {
  concurrent: number;
  perMinute: number;
  perDay: number;
}

/** Per-user counters in Redis, shared by every gateway node. */
@Injectable()
export class QuotaRepository {
  constructor(private readonly redis: RedisRepository) {}

  async admit(userId: string, runId: string, q: QuotaLimits): Promise<Admission> {
    const now = Date.now();
    const minute = Math.floor(now / MINUTE);
    const day = Math.floor(now / DAY);
    const r = (await this.redis.client.eval(
      ADMIT,
      3,
      redisKeys.active(userId),
      redisKeys.runsInWindow(userId, 'm', minute),
      redisKeys.runsInWindow(userId, 'd', day),
      now,
      now + LEASE_MS,
      q.concurrent,
      runId,
      LEASE_MS,
      q.perMinute,
      q.perDay,
      (minute + 1) * MINUTE - now,
      (day + 1) * DAY - now,
    )) as [1] | [0, 'concurrent' | 'minute' | 'day', number];
    if (r[0] === 1) return { ok: true };
    return { ok: false, limit: r[1], retryAfterMs: Math.max(1, r[2]) };
  }

  async releaseActiveSlot(userId: string, runId: string): Promise<void> {
    await this.redis.client.zrem(redisKeys.active(userId), runId);
  }

  /** Sum of the concurrency of live workers, and the recent average run time (ms) or null. */
  async capacity(): Promise<{ slots: number; avgRunMs: number | null }> {
    const ids = await this.redis.client.smembers(redisKeys.workers);
    let slots = 0;
    if (ids.length > 0) {
      const caps = await this.redis.client.mget(ids.map((id) => redisKeys.workerCapacity(id)));
      const dead = ids.filter((_, i) => caps[i] === null);
      if (dead.length > 0) await this.redis.client.srem(redisKeys.workers, ...dead);
      slots = caps.reduce((n, c) => n + (c === null ? 0 : Number(c)), 0);
    }
    const avg = await this.redis.client.get(redisKeys.runMsAverage);
    return { slots, avgRunMs: avg === null ? null : Number(avg) };
  }
}
