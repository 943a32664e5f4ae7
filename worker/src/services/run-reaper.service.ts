import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { RunResult } from '@coderoom/contracts';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';
import { ALIVE_TTL_MS, RedisRepository } from '../repositories/redis.repository.js';
import { RunFeedRepository } from '../repositories/run-feed.repository.js';
import { RunRepository } from '../repositories/run.repository.js';

/** How often this worker says it is alive (it counts as alive for ALIVE_TTL_MS). */
const HEARTBEAT_MS = 2000;
/** How often every worker looks for runs whose worker died. */
const REAP_MS = 4000;

/**
 * Nothing stays `running` forever: each worker keeps a heartbeat in Redis, and every worker
 * periodically ends the runs of workers whose heartbeat expired (killed with SIGKILL, host
 * lost) as `SE`, with `run:finished` and the output they had produced. The finish guard makes
 * this safe against the (impossible) case of the worker still finishing the run itself.
 */
@Injectable()
export class RunReaperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RunReaperService.name);
  private timers: NodeJS.Timeout[] = [];

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly redis: RedisRepository,
    private readonly feeds: RunFeedRepository,
    private readonly runs: RunRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Runs of an earlier process with our WORKER_ID are orphans: end them now, not in 8 s.
    await this.beat();
    await this.reap();
    this.timers = [
      setInterval(() => {
        this.beat().catch((err: Error) => this.logger.warn(`heartbeat failed: ${err.message}`));
      }, HEARTBEAT_MS),
      setInterval(() => {
        this.reap().catch((err: Error) => this.logger.warn(`reaping failed: ${err.message}`));
      }, REAP_MS),
    ];
  }

  private async beat(): Promise<void> {
    await this.redis.heartbeat(this.config.workerId, this.config.instance, ALIVE_TTL_MS);
    await this.redis.announceCapacity(this.config.workerId, this.config.concurrency, ALIVE_TTL_MS);
  }

  onApplicationShutdown(): void {
    this.timers.forEach(clearInterval);
  }

  /** Ends every run held by a dead worker; returns how many. */
  async reap(): Promise<number> {
    let reaped = 0;
    for (const [runId, entry] of await this.redis.running()) {
      if ((await this.redis.liveInstance(entry.workerId)) === entry.instance) continue;
      await this.redis.unmarkRunning(runId);
      const feed = this.feeds.open(runId, entry.ownerId);
      if (!(await feed.claimFinish())) continue;
      const result: RunResult = {
        verdict: 'SE',
        exitCode: null,
        signal: null,
        timeMs: 0,
        memoryKb: null,
        truncated: false,
      };
      try {
        await this.runs.finish(runId, result, await this.redis.replayLog(runId));
      } catch (err) {
        this.logger.error(`run ${runId}: cannot store result: ${(err as Error).message}`);
      }
      await feed.finished(result);
      reaped++;
      this.logger.warn({
        msg: `its worker ${entry.workerId} died; ended as SE`,
        runId,
        workerId: entry.workerId,
      });
    }
    return reaped;
  }
}
