import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import {
  Inject,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Job } from 'bullmq';
import { RUN_QUEUE, type RunJob } from '@coderoom/contracts';
import { traceRun } from '@coderoom/platform';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { RedisRepository } from '../repositories/redis.repository.js';
import { DockerWatchService } from '../services/docker-watch.service.js';
import { RunExecutionService } from '../services/run-execution.service.js';

/** How long a run taken while Docker does not answer waits for it before it runs anyway (SE). */
const DOCKER_WAIT_MS = 60_000;

/** Consumes the run queue; each job is one run, executed by RunExecutionService. */
// A stalled job (its worker died) is not retried: half a run cannot be replayed with the same
// seq numbers. The reaper ends it as SE instead (run-reaper.service.ts).
@Processor(RUN_QUEUE, { maxStalledCount: 0 })
export class RunProcessor
  extends WorkerHost
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(RunProcessor.name);

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly execution: RunExecutionService,
    private readonly metrics: MetricsRepository,
    private readonly redis: RedisRepository,
    private readonly docker: DockerWatchService,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.concurrency;
    // No new run while Docker does not answer: they wait in the queue (for other workers, or
    // for this one when the engine is back) instead of each ending at once as SE.
    this.docker.onChange((up) => {
      const change = up ? this.worker.resume() : this.worker.pause(true);
      change.catch((err: Error) => this.logger.warn(`queue consumer: ${err.message}`));
    });
  }

  /**
   * BullMQ's own errors (e.g. a job whose key vanished in a Redis restart cannot be moved to
   * completed): logged, never fatal. The run itself was already finished and announced.
   */
  @OnWorkerEvent('error')
  onWorkerError(err: Error): void {
    this.logger.warn({ msg: `queue: ${err.message}` });
  }

  /**
   * SIGTERM: take no new job and wait for the runs in flight (each bounded by its limits) while
   * Redis, MongoDB and Docker are still connected; queued runs stay for other workers.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.logger.log('draining: finishing runs in flight, taking no new ones');
    await this.worker.close();
  }

  async process(job: Job<RunJob>): Promise<{ verdict: string }> {
    // Taken just before the engine went away: hold it a while rather than fail it.
    if (!this.docker.up && !(await this.docker.whenUp(DOCKER_WAIT_MS))) {
      this.logger.error({ msg: 'Docker did not come back in time', runId: job.data.runId });
    }
    traceRun('worker-took', job.data.runId);
    this.metrics.runStarted(Date.now() - job.timestamp);
    const tookAt = Date.now();
    let verdict = 'SE';
    try {
      const result = await this.execution.execute(job.data);
      if (!result) {
        verdict = 'skipped';
        this.logger.warn(
          `run ${job.data.runId} was already taken by a worker; not running it again`,
        );
        this.metrics.runFinished(job.data.language, verdict, 0);
        return { verdict };
      }
      verdict = result.verdict;
      this.logger.log({
        msg: `run ${result.verdict} in ${result.timeMs} ms`,
        runId: job.data.runId,
        jobId: job.id,
        userId: job.data.ownerId,
        language: job.data.language,
        verdict: result.verdict,
        timeMs: result.timeMs,
      });
      this.metrics.runFinished(job.data.language, verdict, result.timeMs);
      await this.redis.recordRunMs(Date.now() - tookAt).catch(() => undefined);
    } catch (err) {
      this.metrics.runFinished(job.data.language, verdict, 0);
      throw err;
    }
    return { verdict };
  }
}
