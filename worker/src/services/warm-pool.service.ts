import {
  Inject,
  Injectable,
  Logger,
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

/** A started sandbox whose runner waits on stdin for its one and only run. */
export interface ReadySandbox {
  id: string;
  io: SandboxIo;
  exited: Promise<number>;
}

export const LABEL_POOL = 'coderoom.pool';

/** The pool a spec draws from: same image and same limits (they are fixed at create time). */
export const poolKey = (s: Omit<SandboxSpec, 'labels'>): string =>
  `${s.image}|${s.memoryMb}|${s.cpus}|${s.pids}|${s.tmpfsMb}|${s.cpuSeconds}`;

/**
 * Keeps WARM_POOL_SIZE started, never-reused sandboxes per (image, limits) so a run skips the
 * ~120 ms of create+attach+start. A taken sandbox belongs to one run and is removed after it;
 * the pool refills in the background. Total size is bounded by WARM_POOL_MAX (idle containers
 * cost ~4 MB each). Pools are created on first use of a key, so only used languages cost.
 */
@Injectable()
export class WarmPoolService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WarmPoolService.name);
  private readonly pools = new Map<
    string,
    { spec: SandboxSpec; ready: ReadySandbox[]; filling: boolean }
  >();
  private closed = false;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly docker: DockerRepository,
    private readonly janitor: SandboxJanitorService,
    private readonly metrics: MetricsRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.metrics.warmPool.set(0);
  }

  get size(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.ready.length;
    return n;
  }

  /** A ready sandbox for this spec, or null (pool empty or disabled): then start one cold. */
  take(spec: Omit<SandboxSpec, 'labels'>): ReadySandbox | null {
    if (this.config.warmPoolSize === 0 || this.closed) return null;
    const key = poolKey(spec);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = { spec: { ...spec, labels: {} }, ready: [], filling: false };
      this.pools.set(key, pool);
    }
    const sandbox = pool.ready.shift() ?? null;
    this.metrics.warmPool.set(this.size);
    void this.fill(key);
    return sandbox;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()].flatMap((p) => p.ready.splice(0));
    await Promise.allSettled(all.map((s) => this.docker.remove(s.id)));
    this.metrics.warmPool.set(0);
  }

  private async fill(key: string): Promise<void> {
    const pool = this.pools.get(key);
    if (!pool || pool.filling) return;
    pool.filling = true;
    try {
      await this.janitor.ready;
      while (
        !this.closed &&
        pool.ready.length < this.config.warmPoolSize &&
        this.size < this.config.warmPoolMax
      ) {
        const sandbox = await this.start(pool.spec);
        if (this.closed) {
          // Shut down while this one was starting: it would never be used nor removed.
          await this.docker.remove(sandbox.id).catch(() => undefined);
          break;
        }
        pool.ready.push(sandbox);
        this.metrics.warmPool.set(this.size);
        // A pooled sandbox that dies while waiting (daemon restart, OOM...) leaves the pool.
        void sandbox.exited.then(
          () => this.discard(pool.ready, sandbox),
          () => this.discard(pool.ready, sandbox),
        );
      }
    } catch (err) {
      this.metrics.error('warm-pool');
      this.logger.warn(`warm pool ${key}: ${(err as Error).message}`);
    } finally {
      pool.filling = false;
    }
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

  private discard(list: ReadySandbox[], sandbox: ReadySandbox): void {
    const i = list.indexOf(sandbox);
    if (i === -1) return; // taken by a run: its exit is the run's business
    list.splice(i, 1);
    this.metrics.warmPool.set(this.size);
    void this.docker.remove(sandbox.id).catch(() => undefined);
  }
}
