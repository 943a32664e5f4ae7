import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { RunJob, RunResult } from '@coderoom/contracts';
import { WORKER_CONFIG, tierOf, type WorkerConfig } from '../config/config.js';
import { DockerRepository } from '../repositories/docker.repository.js';
import { LanguageRepository } from '../repositories/language.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { RunFeedRepository } from '../repositories/run-feed.repository.js';
import { RunRepository } from '../repositories/run.repository.js';
import { SandboxJanitorService } from './sandbox-janitor.service.js';
import { StartupGateService } from './startup-gate.service.js';
import { DockerWatchService } from './docker-watch.service.js';
import { LanguageImagesService } from './language-images.service.js';
import { SlotPoolService } from './slot-pool.service.js';
import { WarmPoolService } from './warm-pool.service.js';
import { SandboxRun, sandboxSpec, type SandboxRunDeps } from './sandbox-run.js';

/**
 * Results being stored beyond these hold the next run's slot (MongoDB is slower than the runs):
 * their output is in memory until stored, so the bound is mostly in bytes.
 */
const STORES_IN_FLIGHT = 256;
const STORE_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

/**
 * The Nest entry point of runs: each job becomes a SandboxRun (one program in one fresh sandbox:
 * queued -> (compiling) -> running -> finished), stepped through in `execute`. Every overrun
 * becomes a verdict, and `run:finished` is announced exactly once whatever happens (SE when the
 * engine itself failed), as soon as the program has exited and its output drained. Then,
 * outside the job's slot: the result is stored in MongoDB, and the used sandbox is handed to the
 * janitor for removal (in `finally`). This service keeps what spans runs: warm pools at
 * start-up, the count of runs in flight and the stores of their results (for the shutdown).
 */
@Injectable()
export class RunExecutionService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RunExecutionService.name);
  /** Runs being executed now. */
  private executing = 0;
  /** MongoDB writes of announced results, still in flight, and their output's size. */
  private readonly storing = new Map<Promise<void>, number>();
  private storingBytes = 0;

  private readonly deps: SandboxRunDeps;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    docker: DockerRepository,
    private readonly languages: LanguageRepository,
    feeds: RunFeedRepository,
    runs: RunRepository,
    metrics: MetricsRepository,
    janitor: SandboxJanitorService,
    private readonly pool: WarmPoolService,
    gate: StartupGateService,
    private readonly images: LanguageImagesService,
    @Optional() dockerWatch?: DockerWatchService,
    @Optional() slots?: SlotPoolService,
  ) {
    this.deps = {
      ...{ config, docker, languages, feeds, runs, metrics, janitor, pool, gate, dockerWatch },
      images,
      slots,
      logger: this.logger,
    };
  }

  /**
   * Fills the run-mode pools of WARM_POOL_LANGUAGES. An id that is not installed here stops
   * start-up: a typo would otherwise only show as cold first runs. One whose image is not built
   * is left out (with a warning): its runs are refused, and its pool fills on a first run once
   * the image is there.
   */
  onApplicationBootstrap(): void {
    const ids = this.config.warmPoolLanguages;
    const missing = ids.filter((id) => !this.languages.get(id));
    if (missing.length > 0) {
      const installed = this.languages.all().map((l) => l.id);
      throw new Error(
        `WARM_POOL_LANGUAGES: not installed here: ${missing.join(', ')} (installed: ${installed.join(', ')})`,
      );
    }
    if (ids.length > 0 && this.config.warmPoolSize === 0) {
      this.logger.warn('WARM_POOL_LANGUAGES is set but WARM_POOL_SIZE is 0: no pool is filled');
    }
    const unbuilt = ids.filter((id) => !this.images.has(id));
    if (unbuilt.length > 0) {
      this.logger.warn(`WARM_POOL_LANGUAGES: no image built for ${unbuilt.join(', ')}: not filled`);
    }
    // Languages of the slot tier get their slots from SlotPoolService instead.
    for (const id of ids.filter(
      (l) => this.images.has(l) && tierOf(this.config, l) === 'container',
    )) {
      this.pool.prewarm(sandboxSpec(this.config, this.languages.get(id)!, 'run'));
    }
  }

  /**
   * SIGTERM: the processor's drain waits for the runs in flight; wait for them too and for the
   * MongoDB writes of their results, before the database connection closes.
   */
  async beforeApplicationShutdown(): Promise<void> {
    while (this.executing > 0 || this.storing.size > 0) {
      await Promise.race([new Promise((r) => setTimeout(r, 50)), ...this.storing.keys()]);
    }
  }

  /**
   * The run's result, or null when another worker took it already (it must never run twice).
   * The steps of one run are SandboxRun's (sandbox-run.ts); here only what spans runs: how many
   * are executing, and the MongoDB writes of their results.
   */
  async execute(job: RunJob): Promise<RunResult | null> {
    this.executing++;
    const run = new SandboxRun(job, this.deps);
    try {
      const checking = run.check();
      run.reserveSlot(); // slot tier: taking a slot overlaps the check's round trip
      const check = await checking;
      if (check === 'taken') return null;
      if (check === 'ok') {
        try {
          await run.getSandbox();
          await run.start();
          await run.waitForExit();
        } catch (err) {
          run.failed(err);
        }
      }
      const { result, announced } = await run.finish();
      if (announced) await this.keepStoring(run.store(), run.outputBytes);
      return result;
    } finally {
      await run.cleanUp();
      this.executing--;
    }
  }

  /**
   * Tracks a result being stored, outside the job's slot; while too many (or too much output)
   * are in flight, the caller waits for one to land.
   */
  private async keepStoring(store: Promise<void>, bytes: number): Promise<void> {
    this.storing.set(store, bytes);
    this.storingBytes += bytes;
    void store.finally(() => {
      this.storing.delete(store);
      this.storingBytes -= bytes;
    });
    while (this.storing.size > STORES_IN_FLIGHT || this.storingBytes > STORE_BYTES_IN_FLIGHT) {
      await Promise.race(this.storing.keys());
    }
  }
}
