import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type BeforeApplicationShutdown,
} from '@nestjs/common';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';
import {
  DockerRepository,
  LABEL_WORKER,
  type SandboxIo,
  type SandboxSpec,
} from '../repositories/docker.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { SandboxJanitorService } from './sandbox-janitor.service.js';
import { StartupGateService } from './startup-gate.service.js';
import { DockerWatchService } from './docker-watch.service.js';
import { withDeadline } from './deadline.js';

/** A started sandbox whose runner waits on stdin for its one and only run. */
export interface ReadySandbox {
  id: string;
  io: SandboxIo;
  exited: Promise<number>;
}

export const LABEL_POOL = 'coderoom.pool';

/** The pool a spec draws from: same image and same limits (they are fixed at create time). */
export const poolKey = (s: Omit<SandboxSpec, 'labels'>): string =>
  `${s.image}|${s.memoryMb}|${s.cpus}|${s.pids}|${s.tmpfsMb}|${s.fileSizeMb}|${s.openFiles}|${s.cpuSeconds}`;

/**
 * Sandboxes a pool starts at once: one while it still has a ready one (a start competes with the
 * runs for the CPUs), two when it ran dry and runs would start cold.
 */
const STARTS_AT_ONCE = 1;
const STARTS_AT_ONCE_WHEN_EMPTY = 2;
/**
 * A refill that no run waits for begins once no run is starting (at most this much later): it
 * is triggered by a take, i.e. just as a run starts, and would slow that run's start.
 */
const REFILL_DEFER_MS = 100;
/**
 * A pooled sandbox that dies after waiting at least this long (e.g. in a Docker restart) is
 * replaced at once; one that dies younger is not (a broken image or runner would otherwise be
 * started over and over): the next take tries again.
 */
const REPLACE_IF_LIVED_MS = 10_000;
/** On shutdown, starts in flight are waited for (and their sandboxes removed) this long at most. */
const SHUTDOWN_WAIT_MS = 10_000;

interface Pool {
  spec: SandboxSpec;
  ready: ReadySandbox[];
  /** Starts in flight. */
  starting: number;
  /** Runs that found the pool empty and wait for a start in flight (it began before they came). */
  waiters: ((sandbox: ReadySandbox | null) => void)[];
}

/**
 * Keeps WARM_POOL_SIZE started, never-reused sandboxes per (image, limits) so a run skips the
 * ~120 ms of create+attach+start. A taken sandbox belongs to one run and is removed after it;
 * the pool refills in the background, and a run that finds it empty takes a sandbox whose start
 * is already under way rather than starting one more. Total
 * size is bounded by WARM_POOL_MAX (idle containers cost ~4 MB each). Pools are created on first
 * use of a key, so only used languages cost, or at start-up for WARM_POOL_LANGUAGES.
 */
@Injectable()
export class WarmPoolService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WarmPoolService.name);
  private readonly pools = new Map<string, Pool>();
  /** Starts in flight (startInto), so that a shutdown can remove what they bring. */
  private readonly starts = new Set<Promise<void>>();
  private closed = false;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly docker: DockerRepository,
    private readonly janitor: SandboxJanitorService,
    private readonly metrics: MetricsRepository,
    private readonly gate: StartupGateService,
    @Optional() private readonly dockerWatch?: DockerWatchService,
  ) {}

  onApplicationBootstrap(): void {
    this.metrics.warmPool.set(0);
    // Sandboxes that died with the engine (a Docker restart) are replaced once it answers again,
    // not only when the next run comes and finds the pool empty.
    this.dockerWatch?.onChange((up) => {
      if (up) for (const pool of this.pools.values()) this.fill(pool);
    });
  }

  get size(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.ready.length;
    return n;
  }

  /**
   * A ready sandbox for this spec, or one whose start is under way and not promised to another
   * run; null when there is none (pool empty or disabled): then start one cold.
   */
  async take(spec: Omit<SandboxSpec, 'labels'>): Promise<ReadySandbox | null> {
    if (this.config.warmPoolSize === 0 || this.closed) return null;
    const pool = this.poolOf(spec);
    const ready = pool.ready.shift();
    let sandbox: Promise<ReadySandbox | null> = Promise.resolve(ready ?? null);
    if (!ready && pool.starting > pool.waiters.length) {
      const waiters = pool.waiters;
      sandbox = new Promise((resolve) => waiters.push(resolve));
    }
    this.metrics.warmPool.set(this.size);
    this.fill(pool);
    return sandbox;
  }

  /** Fills the pool of this spec now, before any run asks for it (WARM_POOL_LANGUAGES). */
  prewarm(spec: Omit<SandboxSpec, 'labels'>): void {
    if (this.config.warmPoolSize === 0 || this.closed) return;
    this.fill(this.poolOf(spec));
  }

  private poolOf(spec: Omit<SandboxSpec, 'labels'>): Pool {
    const key = poolKey(spec);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = { spec: { ...spec, labels: {} }, ready: [], starting: 0, waiters: [] };
      this.pools.set(key, pool);
    }
    return pool;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    for (const p of this.pools.values()) p.waiters.splice(0).forEach((w) => w(null));
    const all = [...this.pools.values()].flatMap((p) => p.ready.splice(0));
    await Promise.allSettled(all.map((s) => this.docker.remove(s.id)));
    // A refill under way would otherwise leave its sandbox behind when the process exits (until
    // the next start's orphan sweep): each removes its own once started (closed, see startInto).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.starts]),
      new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_WAIT_MS))),
    ]);
    clearTimeout(timer);
    this.metrics.warmPool.set(0);
  }

  /** Starts what the pool lacks (its size, plus what waiting runs were promised). */
  private fill(pool: Pool): void {
    let starting = 0;
    for (const p of this.pools.values()) starting += p.starting;
    const atOnce = pool.ready.length > 0 ? STARTS_AT_ONCE : STARTS_AT_ONCE_WHEN_EMPTY;
    while (
      !this.closed &&
      pool.starting < atOnce &&
      pool.ready.length + pool.starting - pool.waiters.length < this.config.warmPoolSize &&
      this.size + starting < this.config.warmPoolMax
    ) {
      pool.starting++;
      starting++;
      const start = this.startInto(pool);
      this.starts.add(start);
      void start.finally(() => this.starts.delete(start));
    }
  }

  private async startInto(pool: Pool): Promise<void> {
    let sandbox: ReadySandbox | null = null;
    try {
      await this.janitor.ready;
      if (pool.waiters.length === 0) await this.gate.idle(REFILL_DEFER_MS);
      const starting = this.start(pool.spec);
      // A pooled sandbox's create + attach + start past this counts as failed (a hung engine).
      const startMs = this.config.sandboxStartMs;
      sandbox = await withDeadline(starting, startMs, () => {
        // Should it start after all, nobody will use it.
        void starting.then((late) => this.docker.remove(late.id)).catch(() => undefined);
        return new Error(`no sandbox started in ${startMs} ms`);
      });
    } catch (err) {
      this.metrics.error('warm-pool');
      this.logger.warn(`warm pool ${poolKey(pool.spec)}: ${(err as Error).message}`);
    }
    pool.starting--;
    const waiter = pool.waiters.shift();
    if (waiter) {
      waiter(sandbox); // null: that run starts its own sandbox
    } else if (sandbox && this.closed) {
      // Shut down while this one was starting: it would never be used nor removed.
      await this.docker.remove(sandbox.id).catch(() => undefined);
    } else if (sandbox) {
      const ready = sandbox;
      pool.ready.push(ready);
      this.metrics.warmPool.set(this.size);
      // A pooled sandbox that dies while waiting (daemon restart, OOM...) leaves the pool.
      const readyAt = Date.now();
      void ready.exited.then(
        () => this.discard(pool, ready, readyAt),
        () => this.discard(pool, ready, readyAt),
      );
    }
    // After a failure, the next take tries again (no retry loop against a broken engine).
    if (sandbox) this.fill(pool);
  }

  private async start(spec: SandboxSpec): Promise<ReadySandbox> {
    const id = await this.docker.create({
      ...spec,
      labels: { [LABEL_WORKER]: this.config.workerId, [LABEL_POOL]: 'warm' },
    });
    try {
      const io = await this.docker.attach(id);
      const exited = this.docker.waitForExit(id);
      await this.docker.start(id);
      return { id, io, exited };
    } catch (err) {
      await this.docker.remove(id).catch(() => undefined);
      throw err;
    }
  }

  private discard(pool: Pool, sandbox: ReadySandbox, readyAt: number): void {
    const i = pool.ready.indexOf(sandbox);
    if (i === -1) return; // taken by a run: its exit is the run's business
    pool.ready.splice(i, 1);
    this.metrics.warmPool.set(this.size);
    void this.docker.remove(sandbox.id).catch(() => undefined);
    // Replaced now if the engine answers; else when it does again (onApplicationBootstrap).
    if (Date.now() - readyAt >= REPLACE_IF_LIVED_MS && (this.dockerWatch?.up ?? true)) {
      this.fill(pool);
    }
  }
}
