import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { RUN_QUEUE, type RunJob } from '@coderoom/contracts';

/** The BullMQ run queue, as seen by the gateway. */
@Injectable()
export class QueueRepository {
  constructor(@InjectQueue(RUN_QUEUE) private readonly queue: Queue<RunJob>) {}

  /** Enqueues a run; returns its 1-based place among the waiting runs. */
  async enqueue(job: RunJob): Promise<number> {
    await this.queue.add('run', job, {
      jobId: job.runId,
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600, count: 1000 },
    });
    return Math.max(1, await this.queue.getWaitingCount());
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

  async ping(): Promise<boolean> {
    try {
      await this.queue.getJobCounts('waiting');
      return true;
    } catch {
      return false;
    }
  }
}
