import { Injectable } from '@nestjs/common';
import { redisKeys } from '@coderoom/contracts';
import { RedisRepository } from './redis.repository.js';

/**
 * Atomically: forget slots whose lease ran out (a run lost with a crashed worker), then take a
 * slot if fewer than the limit are held. Returns 1 when taken, 0 when the user is at the limit.
 */
const TAKE_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

/** A slot is held at most this long even if nobody releases it. */
const LEASE_MS = 10 * 60 * 1000;

/** Per-user counters in Redis, shared by every gateway node. */
@Injectable()
export class QuotaRepository {
  constructor(private readonly redis: RedisRepository) {}

  /** Takes an active-run slot; false when the user holds `limit` already. */
  async takeActiveSlot(userId: string, runId: string, limit: number): Promise<boolean> {
    const now = Date.now();
    const r = (await this.redis.client.eval(
      TAKE_SLOT,
      1,
      redisKeys.active(userId),
      now,
      now + LEASE_MS,
      limit,
      runId,
      LEASE_MS,
    )) as number;
    return r === 1;
  }

  async releaseActiveSlot(userId: string, runId: string): Promise<void> {
    await this.redis.client.zrem(redisKeys.active(userId), runId);
  }
}
