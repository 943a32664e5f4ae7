import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { RUN_QUEUE, type RunJob } from '@coderoom/contracts';
import { RedisRepository } from './redis.repository.js';

/** The BullMQ run queue, as seen by the gateway. */
@Injectable()
export class QueueRepository {
  constructor(
    @InjectQueue(RUN_QUEUE) private readonly queue: Queue<RunJob>,
    private readonly redis: RedisRepository,
  ) {}

  /** Enqueues a run; returns its 1-based place among the waiting runs. */
  async enqueue(job: RunJob): Promise<number> {
    await this.queue.add('run', job, {
      jobId: job.runId,
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600, count: 1000 },
    });
    // The job is queued now: a failing position lookup must not make the caller undo the run.
    try {
      const place = (await this.positions([job.runId])).get(job.runId);
      return place ?? Math.max(1, await this.queue.getWaitingCount());
    } catch {
      return 1;
    }
  }

  /** Removes a run that is still waiting; false when a worker already holds it. */
  async removeIfWaiting(runId: string): Promise<boolean> {
    const job = await this.queue.getJob(runId);
    if (!job) return false;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'prioritized' && state !== 'delayed') return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false; // locked by a worker in the meantime
    }
  }

  /**
   * 1-based places of waiting runs. BullMQ pushes new jobs on the left of its wait list and
   * workers take them from the right, so the place is the distance from the right end. Only
   * the oldest `scan` entries are looked at; runs further back get no position update.
   */
  async positions(runIds: readonly string[], scan = 5000): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (runIds.length === 0) return out;
    const oldest = await this.redis.client.lrange(this.queue.keys.wait, -scan, -1);
    const wanted = new Set(runIds);
    for (let i = oldest.length - 1, place = 1; i >= 0; i--, place++) {
      const id = oldest[i];
      if (wanted.has(id)) out.set(id, place);
    }
    return out;
  }

  /** Runs waiting in the queue, or null when Redis does not answer. */
  async waitingCount(): Promise<number | null> {
    try {
      return await this.queue.getWaitingCount();
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
