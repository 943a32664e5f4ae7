import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { RunRepository, type NewRun } from '../repositories/run.repository.js';

/** Attempts at storing a run's document; the pause between two doubles from 250 ms to 8 s. */
const ATTEMPTS = 8;
const RETRY_MS = 250;
/** How long a stopping gateway waits for run documents still being stored. */
const DRAIN_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Stores new runs' documents off the admission's critical path (MongoDB's insert was its
 * slowest step): the gateway acknowledges a run once Redis holds it, and its document is
 * written meanwhile, retried for half a minute or so. If it never lands (MongoDB down that
 * long, or the gateway killed first), the run still executes and ends visibly: `run:finished`
 * reaches its watchers, its live state in Redis serves reads for REPLAY_TTL_SECONDS, the
 * worker's upserts leave a document with the result and the output (without the request's
 * fields), and the loss is logged as an error with the run id.
 */
@Injectable()
export class RunStoreService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(RunStoreService.name);
  private readonly pending = new Set<Promise<boolean>>();
  private stopping = false;

  constructor(private readonly runs: RunRepository) {}

  /** Starts storing a run's document (admitted and enqueued); never throws. */
  store(run: NewRun): void {
    const done = this.storeWithRetries(run);
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  /** SIGTERM: run documents still being stored get a few seconds to land. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.pending.size === 0) return;
    this.logger.log(`waiting for ${this.pending.size} run document(s) to be stored`);
    await Promise.race([Promise.allSettled([...this.pending]), sleep(DRAIN_MS)]);
  }

  private async storeWithRetries(run: NewRun): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.runs.create(run);
        return true;
      } catch (err) {
        const log = { runId: run._id, userId: run.ownerId, attempt };
        const why = (err as Error).message;
        if (attempt >= ATTEMPTS || this.stopping) {
          this.logger.error({
            ...log,
            msg: `run document NOT stored (${why}): the run executes, but MongoDB gets only the worker's copy`,
          });
          return false;
        }
        this.logger.warn({ ...log, msg: `storing the run document failed (${why}); retrying` });
        await sleep(Math.min(8000, RETRY_MS * 2 ** (attempt - 1)));
      }
    }
  }
}
