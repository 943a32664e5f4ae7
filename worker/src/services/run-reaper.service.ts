import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { RUN_QUEUE, type RunJob, type RunResult } from '@coderoom/contracts';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';
import { DockerRepository } from '../repositories/docker.repository.js';
import { ALIVE_TTL_MS, RedisRepository } from '../repositories/redis.repository.js';
import { RunFeedRepository } from '../repositories/run-feed.repository.js';
import { RunRepository } from '../repositories/run.repository.js';
import { LanguageImagesService } from './language-images.service.js';

/** How often this worker says it is alive (it counts as alive for ALIVE_TTL_MS). */
const HEARTBEAT_MS = 2000;
/** How often every worker looks for runs whose worker died. */
const REAP_MS = 4000;
/** How often one worker (holding a lease) compares the stored unfinished runs with Redis. */
const RECONCILE_MS = 5000;
/** Runs younger than this are not reconciled (the gateway may be between its writes). */
const RECONCILE_GRACE_MS = 10_000;
/** A run that looks lost is ended only if it still does this much later (> one heartbeat). */
const SUSPECT_MS = HEARTBEAT_MS * 2;
/** How often each worker looks for sandboxes of dead workers on its Docker engine. */
const ORPHAN_SWEEP_MS = 15_000;
/** Job states in which BullMQ still holds a run (anything else: completed, failed, gone). */
const LIVE_JOB_STATES = new Set([
  'waiting',
  'prioritized',
  'delayed',
  'active',
  'waiting-children',
]);

/**
 * Nothing stays `queued` or `running` forever:
 * - each worker keeps a heartbeat in Redis, and every worker periodically ends the runs of
 *   workers whose heartbeat expired (killed with SIGKILL, host lost) as `SE`, with
 *   `run:finished` and the output they had produced;
 * - one worker at a time (a short lease) compares the runs MongoDB holds as unfinished with
 *   Redis: a run that neither BullMQ nor any worker holds any more was lost (a Redis restart
 *   without persistence, a gateway that died between its writes) and is ended as `SE`; a run
 *   that finished in Redis while MongoDB was unreachable gets its stored copy written now.
 * The finish guard (claimFinish) keeps `run:finished` to exactly one announcement.
 */
@Injectable()
export class RunReaperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RunReaperService.name);
  private timers: NodeJS.Timeout[] = [];
  /** Worker ids seen owning sandboxes without a heartbeat on the last orphan sweep. */
  private readonly goneWorkers = new Set<string>();

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly redis: RedisRepository,
    private readonly feeds: RunFeedRepository,
    private readonly runs: RunRepository,
    private readonly docker: DockerRepository,
    private readonly images: LanguageImagesService,
    @InjectQueue(RUN_QUEUE) private readonly queue: Queue<RunJob>,
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
      setInterval(() => {
        this.sweepOrphans().catch((err: Error) =>
          this.logger.warn(`orphan sweep failed: ${err.message}`),
        );
      }, ORPHAN_SWEEP_MS),
      setInterval(() => {
        this.reconcile().catch((err: Error) =>
          this.logger.warn(`reconciling failed: ${err.message}`),
        );
      }, RECONCILE_MS),
    ];
  }

  private async beat(): Promise<void> {
    await this.redis.heartbeat(this.config.workerId, this.config.instance, ALIVE_TTL_MS);
    await this.redis.announceCapacity(
      this.config.workerId,
      this.config.concurrency,
      this.config.limits,
      this.images.ids(),
      ALIVE_TTL_MS,
    );
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
      if (await this.endAsSystemError(runId, entry.ownerId, true)) {
        reaped++;
        this.logger.warn({
          msg: `its worker ${entry.workerId} died; ended as SE`,
          runId,
          workerId: entry.workerId,
        });
      }
    }
    return reaped;
  }

  /**
   * Removes the sandboxes of workers that are gone (their heartbeat absent on two sweeps in a
   * row, so a Redis restart, which drops every heartbeat for a moment, removes nothing). This
   * is what cleans up after a worker that died and came back under another WORKER_ID (the
   * default, hostname-pid, changes with every start); the same id is cleaned at its boot.
   */
  async sweepOrphans(): Promise<number> {
    let removed = 0;
    const owners = await this.docker.sandboxOwners();
    for (const id of [...this.goneWorkers]) if (!owners.has(id)) this.goneWorkers.delete(id);
    for (const id of owners) {
      if (id === this.config.workerId || (await this.redis.liveInstance(id)) !== null) {
        this.goneWorkers.delete(id);
        continue;
      }
      if (!this.goneWorkers.has(id)) {
        this.goneWorkers.add(id); // first sighting: look again next sweep
        continue;
      }
      const n = await this.docker.removeOwnedBy(id);
      this.goneWorkers.delete(id);
      removed += n;
      if (n > 0) this.logger.warn({ msg: `removed ${n} sandbox(es) of gone worker ${id}` });
    }
    return removed;
  }

  /**
   * Compares the runs stored as unfinished with Redis (see the class comment); returns how
   * many were ended as lost and how many stored copies were repaired.
   */
  async reconcile(): Promise<{ lost: number; repaired: number }> {
    const counts = { lost: 0, repaired: 0 };
    if (!(await this.redis.reconcileLease(this.config.instance, RECONCILE_MS * 2))) return counts;
    const now = Date.now();
    const candidates = await this.runs.unfinished(new Date(now - RECONCILE_GRACE_MS), 200);
    const held = candidates.length ? await this.redis.running() : new Map();
    for (const run of candidates) {
      if (held.has(run._id)) continue; // a worker holds it (the reaper watches that worker)
      if (LIVE_JOB_STATES.has(await this.queue.getJobState(run._id))) continue;
      const stored = await this.redis.storedResult(run._id);
      if (stored) {
        // It finished while MongoDB was unreachable: write the stored copy now.
        const log = await this.redis.replayLog(run._id);
        await this.runs.finish(run._id, stored.result, log, null, stored.finishedAt ?? new Date());
        counts.repaired++;
        this.logger.warn({ msg: 'stored the result MongoDB had missed', runId: run._id });
        continue;
      }
      if (now - (await this.redis.suspectSince(run._id, now)) < SUSPECT_MS) continue;
      // Whoever claimed the finish (if anyone) did not complete it in SUSPECT_MS: end it anyway.
      await this.endAsSystemError(run._id, run.ownerId ?? '', false);
      counts.lost++;
      this.logger.warn({
        msg: `no queue or worker holds this ${run.status} run any more (lost with Redis?); ended as SE`,
        runId: run._id,
        userId: run.ownerId,
      });
    }
    return counts;
  }

  /**
   * Ends a run nobody will finish as SE, keeping the output it had produced, and announces it.
   * With `exclusive`, only if nobody else claimed its end; returns whether it was ended here.
   */
  private async endAsSystemError(
    runId: string,
    ownerId: string,
    exclusive: boolean,
  ): Promise<boolean> {
    const feed = this.feeds.open(runId, ownerId);
    if (!(await feed.claimFinish()) && exclusive) return false;
    const result: RunResult = {
      verdict: 'SE',
      exitCode: null,
      signal: null,
      timeMs: 0,
      memoryKb: null,
      truncated: false,
    };
    const finishedAt = new Date();
    try {
      await this.runs.finish(runId, result, await this.redis.replayLog(runId), null, finishedAt);
    } catch (err) {
      this.logger.error(`run ${runId}: cannot store result: ${(err as Error).message}`);
    }
    await feed.finished(result, finishedAt);
    return true;
  }
}
