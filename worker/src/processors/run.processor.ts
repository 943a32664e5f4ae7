import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Job } from 'bullmq';
import { RUN_QUEUE, type RunJob } from '@coderoom/contracts';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';
import { RunExecutionService } from '../services/run-execution.service.js';

/** Consumes the run queue; each job is one run, executed by RunExecutionService. */
@Processor(RUN_QUEUE)
export class RunProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(RunProcessor.name);

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly execution: RunExecutionService,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.concurrency;
  }

  async process(job: Job<RunJob>): Promise<{ verdict: string }> {
    const result = await this.execution.execute(job.data);
    this.logger.log(
      `run ${job.data.runId} (${job.data.language}): ${result.verdict} in ${result.timeMs} ms`,
    );
    return { verdict: result.verdict };
  }
}
