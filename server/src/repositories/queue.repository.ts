import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { RUN_QUEUE, type RunJob } from '@coderoom/contracts';
import { traceRun } from '@coderoom/platform';
import { defineScript, type RedisScript } from '@coderoom/platform';
import { RedisRepository } from './redis.repository.js';

/** BullMQ's largest priority number (bullmq classes/job.js PRIORITY_LIMIT). */
export const MAX_PRIORITY = 2 ** 21 - 1;

/**
 * 1-based places of waiting runs (0: not waiting), in the order workers take them. A BullMQ
 * worker takes the wait list first (jobs without a priority, from its right end; ours all have
 * one, but a job enqueued by an older gateway may not), then the prioritized set lowest score
 * first: score = priority * 2^32 + a counter, so FIFO within a priority
 * (bullmq commands/includes/getPriorityScore.lua, moveJobFromPrioritizedToActive.lua).
 * Only the oldest ARGV[1] entries of the wait list are looked at.
 * KEYS: 1 wait list, 2 prioritized set. ARGV: 1 scan, 2.. run ids.
 */
const POSITIONS = `
local waitLen = redis.call('LLEN', KEYS[1])
local inWait = {}
if waitLen > 0 then
  local oldest = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[1]), -1)
  for i = #oldest, 1, -1 do inWait[oldest[i]] = #oldest - i + 1 end
end
local out = {}
for i = 2, #ARGV do
  local place = inWait[ARGV[i]]
  if not place then
    local rank = redis.call('ZRANK', KEYS[2], ARGV[i])
    place = rank and waitLen + rank + 1 or 0
  end
  out[i - 1] = place
end
return out
`;

/** The BullMQ run queue, as seen by the gateway. */
@Injectable()
export class QueueRepository {
  private readonly positionsScript: RedisScript<number[]>;

  constructor(
    @InjectQueue(RUN_QUEUE) private readonly queue: Queue<RunJob>,
    redis: RedisRepository,
  ) {
    this.positionsScript = defineScript(redis.client, 'coderoomQueuePositions', POSITIONS, 2);
  }

  /**
   * The Redis keys of the waiting runs and the prefix of a job's key (+ its id, the run id), for
   * the admission script's backpressure.
   */
  get keys(): { wait: string; prioritized: string; job: string } {
    return {
      wait: this.queue.keys.wait,
      prioritized: this.queue.keys.prioritized,
      job: this.queue.toKey(''),
    };
  }

  /**
   * Enqueues a run with a BullMQ priority (>= 1; lower runs first, FIFO among equals); returns
   * its 1-based place among the waiting runs.
   */
  async enqueue(job: RunJob, priority: number): Promise<number> {
    await this.queue.add('run', job, {
      jobId: job.runId,
      priority,
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600, count: 1000 },
    });
    traceRun('gateway-enqueued', job.runId);
    // The job is queued now: a failing position lookup must not make the caller undo the run.
    try {
      // Not waiting any more: a worker took it already, so it was at the front.
      return (await this.positions([job.runId])).get(job.runId) ?? 1;
    } catch {
      return 1;
    }
  }

  /** Removes a run that is still waiting; false when a worker already holds it. */
  async removeIfWaiting(runId: string): Promise<boolean> {
    const state = await this.queue.getJobState(runId);
    if (state !== 'waiting' && state !== 'prioritized' && state !== 'delayed') return false;
    try {
      // 0 when a worker locked it in the meantime.
      return (await this.queue.remove(runId)) === 1;
    } catch {
      return false;
    }
  }

  /** 1-based places of the given runs that are waiting, in the order workers will take them. */
  async positions(runIds: readonly string[], scan = 5000): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (runIds.length === 0) return out;
    const { wait, prioritized } = this.keys;
    const places = await this.positionsScript(wait, prioritized, scan, ...runIds);
    runIds.forEach((id, i) => {
      if (places[i] > 0) out.set(id, places[i]);
    });
    return out;
  }

  /** Runs waiting in the queue (with or without a priority), or null when Redis does not answer. */
  async waitingCount(): Promise<number | null> {
    try {
      return await this.queue.getJobCountByTypes('waiting', 'prioritized');
    } catch {
      return null;
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.queue.getJobCounts('waiting');
      return true;
    } catch {
      return false;
    }
  }
}
