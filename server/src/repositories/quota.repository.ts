import { Inject, Injectable } from '@nestjs/common';
import { redisKeys, releaseRunSlots } from '@coderoom/contracts';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { MAX_PRIORITY, QueueRepository } from './queue.repository.js';
import { defineScript, type RedisScript } from '@coderoom/platform';
import { RedisRepository } from './redis.repository.js';
import { originFields, type RunOrigin } from './run-log.repository.js';

/**
 * The whole admission of a run, atomically and in one round trip:
 * 1. backpressure: refuse when the expected queue wait (waiting runs + 1) x average run time /
 *    live worker slots, or, with every slot busy, (waiting runs + 1) / the rate runs finished
 *    at over the last 10 s, exceeds the bound (dead workers are forgotten on the way);
 * 2. quotas: forget active slots whose lease ran out (a run lost with a crashed worker) or whose
 *    run has ended (its finished guard exists: whoever ends a run releases its slots, this only
 *    repairs a release that was missed), then check the user's concurrent, per-minute and
 *    per-day limits;
 * 3. take the slots: the run's id in its user's active set and, when it names a session, in the
 *    session's; the sizes of those sets after the add are the run's fair-share ranks;
 * 4. its queue priority (lower runs first, FIFO among equals; README "Admission and fair
 *    share"): the larger rank (a user's n-th active run waits behind every other user's first
 *    ones; a session counts as one user towards everyone outside it), but never below the
 *    priority of a run of the same user or session that is still queued: ranks drop as earlier
 *    runs end, which would otherwise let a later run overtake an earlier one of the same user;
 * 5. count the run and write its live state (redisKeys.state) as a queued run, with its
 *    priority.
 *
 * KEYS: 1 user's active set, 2 minute counter, 3 day counter, 4 run state, 5 queue wait list,
 *       6 queue prioritized set, 7 live worker ids, 8 average run ms, 9 runs admitted and not
 *       enqueued yet (redisKeys.admitting), 10 session's active set (only when the run names a
 *       session).
 * ARGV: 1 now, 2 lease end, 3 lease ms, 4 run id, 5 concurrent, 6 per minute, 7 per day,
 *       8 ms to the minute's end, 9 ms to the day's end, 10 busy wait ms, 11 assumed run ms,
 *       12 and 13 worker capacity key = ARGV[12] .. id .. ARGV[13], 14 state TTL (s),
 *       15 and 16 finished guard key = ARGV[15] .. run id .. ARGV[16], 17 runs-finished
 *       counter key prefix (+ epoch second), 18 largest priority, 19 and 20 state key =
 *       ARGV[19] .. run id .. ARGV[20], 21 how long an admitted run counts as being enqueued
 *       (ms), 22 the queue's job key prefix (+ run id: the run's job), 23.. state fields and
 *       values.
 * Returns {1, user rank, session rank (0 without session), priority}, {0, limit, retry ms} or
 * {0, 'busy', waiting, expected wait ms}.
 */
const ADMIT = `
local now = tonumber(ARGV[1])
-- Drops an active set's expired and ended runs; returns the highest priority among the runs
-- left that are still queued (0: none), in the same pass.
local function prune(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local floor = 0
  for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if redis.call('EXISTS', ARGV[15] .. id .. ARGV[16]) == 1 then
      redis.call('ZREM', key, id)
    else
      local st = redis.call('HMGET', ARGV[19] .. id .. ARGV[20], 'status', 'priority')
      if st[1] == 'queued' and st[2] then floor = math.max(floor, tonumber(st[2])) end
    end
  end
  return floor
end
-- Runs admitted whose enqueue has not landed yet (a gateway that died in between leaves its
-- entries for ADMITTING_MS at most) will wait too once every slot is busy: they count below
-- for the drain rate, not while slots are free (two runs started together on an idle system
-- are both taken at once).
-- One whose job exists is in the queue already (its gateway's ZREM follows the add): counted
-- with the waiting runs only, not twice.
redis.call('ZREMRANGEBYSCORE', KEYS[9], '-inf', now - tonumber(ARGV[21]))
local waiting = redis.call('LLEN', KEYS[5]) + redis.call('ZCARD', KEYS[6])
local admitting = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[9], 0, -1)) do
  if redis.call('EXISTS', ARGV[22] .. id) == 1 then
    redis.call('ZREM', KEYS[9], id)
  else
    admitting = admitting + 1
  end
end
local slots = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[7])) do
  local capacity = redis.call('GET', ARGV[12] .. id .. ARGV[13])
  if capacity then slots = slots + tonumber(capacity) else redis.call('SREM', KEYS[7], id) end
end
local avg = tonumber(redis.call('GET', KEYS[8]) or ARGV[11])
local expected = (waiting + 1) * avg / math.max(1, slots)
-- With every slot busy, the queue drains at the rate runs really finish, which the slot formula
-- overestimates when the runs share the machine with dockerd, the database and pool refills:
-- measured over the last 10 s (counters written by the workers).
if waiting + admitting >= slots then
  local sec = math.floor(now / 1000)
  local done = 0
  for s = sec - 10, sec - 1 do done = done + tonumber(redis.call('GET', ARGV[17] .. s) or '0') end
  if done > 0 then expected = math.max(expected, (waiting + admitting + 1) * 10000 / done) end
end
if expected > tonumber(ARGV[10]) then
  return {0, 'busy', waiting + admitting, math.floor(expected + 0.5)}
end
local floor = prune(KEYS[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then
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
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local userRank = redis.call('ZCARD', KEYS[1])
local sessionRank = 0
redis.call('HSET', KEYS[4], unpack(ARGV, 23))
redis.call('ZADD', KEYS[9], now, ARGV[4])
if KEYS[10] then
  floor = math.max(floor, prune(KEYS[10]))
  redis.call('ZADD', KEYS[10], ARGV[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[10], ARGV[3])
  sessionRank = redis.call('ZCARD', KEYS[10])
  redis.call('HSET', KEYS[4], 'sessionSlots', KEYS[10])
end
local priority = math.min(tonumber(ARGV[18]), math.max(1, userRank, sessionRank, floor))
redis.call('HSET', KEYS[4], 'priority', priority)
redis.call('EXPIRE', KEYS[4], ARGV[14])
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[8]) end
if redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[9]) end
return {1, userRank, sessionRank, priority}
`;

/** An admitted run counts as being enqueued at most this long (its gateway may have died). */
const ADMITTING_MS = 30_000;
/** A slot is held at most this long even if nobody releases it. */
const LEASE_MS = 10 * 60 * 1000;
const MINUTE = 60_000;
const DAY = 86_400_000;
/** Keys around an id, for the script (one source: redisKeys). */
const [CAPACITY_PREFIX, CAPACITY_SUFFIX] = redisKeys.workerCapacity('\n').split('\n');
const [FINISHED_PREFIX, FINISHED_SUFFIX] = redisKeys.finished('\n').split('\n');
const [STATE_PREFIX, STATE_SUFFIX] = redisKeys.state('\n').split('\n');

export interface QuotaLimits {
  concurrent: number;
  perMinute: number;
  perDay: number;
}

export interface AdmissionRequest {
  runId: string;
  userId: string;
  sessionId: string | null;
  limits: QuotaLimits;
  /** Refuse when the expected queue wait exceeds this many ms. */
  busyWaitMs: number;
  /** Run time assumed (ms) until workers have measured one. */
  assumedRunMs: number;
  /** What the run's live state starts with. */
  origin: RunOrigin;
}

export type Admission =
  /**
   * Ranks: active runs of the user (of the session; 0 without one), this one included; the
   * queue priority that follows from them and the user's and session's queued runs.
   */
  | { outcome: 'admitted'; userRank: number; sessionRank: number; priority: number }
  | { outcome: 'limited'; limit: 'concurrent' | 'minute' | 'day'; retryAfterMs: number }
  | { outcome: 'busy'; waiting: number; expectedWaitMs: number };

type AdmitReply =
  | [1, number, number, number]
  | [0, 'concurrent' | 'minute' | 'day', number]
  | [0, 'busy', number, number];

/** Per-user (and per-session) admission state in Redis, shared by every gateway node. */
@Injectable()
export class QuotaRepository {
  private readonly admitScript: RedisScript<AdmitReply>;
  private readonly releaseScript: RedisScript<number>;

  constructor(
    private readonly redis: RedisRepository,
    private readonly queue: QueueRepository,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {
    this.admitScript = defineScript(redis.client, 'coderoomAdmit', ADMIT);
    this.releaseScript = defineScript(
      redis.client,
      'coderoomReleaseRunSlots',
      releaseRunSlots.lua,
      releaseRunSlots.numberOfKeys,
    );
  }

  async admit(req: AdmissionRequest): Promise<Admission> {
    const now = Date.now();
    const minute = Math.floor(now / MINUTE);
    const day = Math.floor(now / DAY);
    const keys = [
      redisKeys.active(req.userId),
      redisKeys.runsInWindow(req.userId, 'm', minute),
      redisKeys.runsInWindow(req.userId, 'd', day),
      redisKeys.state(req.runId),
      this.queue.keys.wait,
      this.queue.keys.prioritized,
      redisKeys.workers,
      redisKeys.runMsAverage,
      redisKeys.admitting,
      ...(req.sessionId === null ? [] : [redisKeys.sessionActive(req.sessionId)]),
    ];
    const r = await this.admitScript(
      keys.length,
      ...keys,
      now,
      now + LEASE_MS,
      LEASE_MS,
      req.runId,
      req.limits.concurrent,
      req.limits.perMinute,
      req.limits.perDay,
      (minute + 1) * MINUTE - now,
      (day + 1) * DAY - now,
      req.busyWaitMs,
      req.assumedRunMs,
      CAPACITY_PREFIX,
      CAPACITY_SUFFIX,
      this.config.replayTtlSeconds,
      FINISHED_PREFIX,
      FINISHED_SUFFIX,
      redisKeys.runsFinishedIn(''),
      MAX_PRIORITY,
      STATE_PREFIX,
      STATE_SUFFIX,
      ADMITTING_MS,
      this.queue.keys.job,
      ...originFields(req.origin),
    );
    if (r[0] === 1) {
      return { outcome: 'admitted', userRank: r[1], sessionRank: r[2], priority: r[3] };
    }
    if (r[1] === 'busy') return { outcome: 'busy', waiting: r[2], expectedWaitMs: r[3] };
    return { outcome: 'limited', limit: r[1], retryAfterMs: Math.max(1, r[2]) };
  }

  /** The run is in the queue (or will never be): it no longer counts as being enqueued. */
  async enqueued(runId: string): Promise<void> {
    await this.redis.client.zrem(redisKeys.admitting, runId);
  }

  /** Gives back the run's slots (user's and session's) and, with `forget`, its live state. */
  async release(userId: string, runId: string, forget = false): Promise<void> {
    await this.releaseScript(...releaseRunSlots.args(userId, runId));
    if (forget) await this.redis.client.del(redisKeys.state(runId));
  }
}
