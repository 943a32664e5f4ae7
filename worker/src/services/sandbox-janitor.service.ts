import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';
import { DockerRepository, LABEL_WORKER } from '../repositories/docker.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { StartupGateService } from './startup-gate.service.js';

/** Removals running at once (each is tens of ms of dockerd work, competing with the runs). */
const REMOVALS_AT_ONCE = 4;
/** One removal attempt longer than this counts as failed (dockerd stuck). */
const REMOVE_TIMEOUT_MS = 30_000;
/** Waits before the further attempts; after the last, the next boot's cleanup removes it. */
const RETRY_AFTER_MS = [1000, 5000, 30_000];
/**
 * A used sandbox is removed a moment after its run, and not while another run is starting
 * (StartupGateService; at most REMOVE_DEFER_MS): the next run of a client usually starts right
 * after the last one ended, and the removal would slow its start.
 */
const REMOVE_DELAY_MS = 30;
const REMOVE_DEFER_MS = 250;

/**
 * Boot checks: Docker answers (which images exist is LanguageImagesService's), and sandboxes left
 * by a previous crash of this worker (same WORKER_ID) are removed. Then it removes used sandboxes in the
 * background (`dispose`), so a run's slot is free as soon as its result is out: every removal is
 * bounded, retried, counted (`coderoom_sandbox_removals_pending`, errors `remove`), and a
 * shutdown waits for all of them.
 */
@Injectable()
export class SandboxJanitorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SandboxJanitorService.name);
  private markReady!: () => void;
  /**
   * Resolves once boot cleanup is done. BullMQ starts consuming at module init, earlier than
   * this runs, so runs wait for it: otherwise the cleanup could remove a brand-new sandbox.
   */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));
  private readonly waiting: string[] = [];
  private readonly removing = new Set<Promise<void>>();
  /** Removals waiting for their moment (REMOVE_DELAY_MS, then no run starting). */
  private readonly deferred = new Set<Promise<void>>();
  private closing = false;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly docker: DockerRepository,
    private readonly metrics: MetricsRepository,
    private readonly gate: StartupGateService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.metrics.pendingRemovals.set(0);
    if (!(await this.docker.ping())) {
      throw new Error(`Docker does not answer on ${this.config.dockerSocket}`);
    }
    const removed = await this.docker.removeLabelled(`${LABEL_WORKER}=${this.config.workerId}`);
    if (removed > 0) this.logger.warn(`removed ${removed} orphaned sandbox container(s)`);
    this.markReady();
  }

  /** Removes a used sandbox (and its cgroup) in the background. */
  dispose(id: string): void {
    if (this.closing) {
      this.waiting.push(id);
      this.pump();
      return;
    }
    // The wait holds no removal slot: removals keep pace with the runs under load.
    const deferral = sleep(REMOVE_DELAY_MS)
      .then(() => this.gate.idle(REMOVE_DEFER_MS))
      .then(() => {
        this.deferred.delete(deferral);
        this.waiting.push(id);
        this.pump();
      });
    this.deferred.add(deferral);
    this.countPending();
  }

  /** After the runs in flight ended (beforeApplicationShutdown): every removal, no more waits. */
  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    while (this.deferred.size > 0 || this.removing.size > 0) {
      await Promise.allSettled([...this.deferred, ...this.removing]);
    }
  }

  private pump(): void {
    while (this.removing.size < REMOVALS_AT_ONCE && this.waiting.length > 0) {
      const id = this.waiting.shift()!;
      const removal = this.remove(id).finally(() => {
        this.removing.delete(removal);
        this.pump();
      });
      this.removing.add(removal);
    }
    this.countPending();
  }

  private countPending(): void {
    this.metrics.pendingRemovals.set(this.deferred.size + this.waiting.length + this.removing.size);
  }

  private async remove(id: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await withTimeout(this.docker.remove(id), REMOVE_TIMEOUT_MS);
        return;
      } catch (err) {
        this.metrics.error('remove');
        const retryAfter = RETRY_AFTER_MS[attempt];
        const last = retryAfter === undefined || (this.closing && attempt > 0);
        this.logger.error(
          `cannot remove sandbox ${id.slice(0, 12)}: ${(err as Error).message}` +
            (last ? '; the next start of this worker removes it' : '; trying again'),
        );
        if (last) return;
        if (!this.closing) await new Promise((r) => setTimeout(r, retryAfter));
      }
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Docker in ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
