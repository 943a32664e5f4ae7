import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { DockerRepository } from '../repositories/docker.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';

/** How often the Docker engine is pinged. */
const PING_MS = 500;
/** How long `goingAway` watches the engine after a suspicious exit. */
const GOING_AWAY_MS = 1500;
/** A ping not answered within this counts as no answer (a hung engine, not only a dead one). */
const PING_TIMEOUT_MS = 1000;

/**
 * Knows whether the Docker engine answers (a daemon restart, a full disk...). While it does
 * not, the run processor takes no run (its queue consumer is paused; a run it already holds
 * waits), so runs stay queued instead of each ending at once as SE; runs already in a sandbox
 * when the engine went away end as SE (their sandbox died with it).
 */
@Injectable()
export class DockerWatchService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DockerWatchService.name);
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private readonly listeners = new Set<(up: boolean) => void>();
  /** The last answer (the janitor checked the engine at boot). */
  up = true;

  constructor(
    private readonly docker: DockerRepository,
    private readonly metrics: MetricsRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.check(), PING_MS);
    this.timer.unref();
  }

  // Not before the shutdown: the processor's drain may wait for the engine to come back.
  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Called with the new state whenever the engine stops or starts answering. */
  onChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves true once the engine answers, or false after `ms`. */
  whenUp(ms: number): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, ms);
      const off = this.onChange((up) => {
        if (!up) return;
        clearTimeout(timer);
        off();
        resolve(true);
      });
    });
  }

  /**
   * True when the engine stops answering within a few seconds. A daemon that shuts down
   * (restart, upgrade) first stops its containers with SIGTERM, then closes its API: a sandbox
   * ended by SIGTERM (never sent by us) is checked with this to tell that from the program
   * killing itself.
   */
  async goingAway(): Promise<boolean> {
    if (!this.up) return true;
    for (let waited = 0; waited <= GOING_AWAY_MS; waited += 250) {
      if (!(await this.ping())) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  }

  private async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), PING_TIMEOUT_MS)));
    try {
      return await Promise.race([this.docker.ping(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One look at the engine; tells the listeners when its answer changed. */
  async check(): Promise<void> {
    if (this.checking || !this.timer) return;
    this.checking = true;
    try {
      const up = await this.ping();
      if (up === this.up || !this.timer) return;
      this.up = up;
      if (up) {
        this.logger.log('the Docker engine answers again: taking runs');
      } else {
        this.metrics.error('docker-unreachable');
        this.logger.error('the Docker engine does not answer: taking no runs until it does');
      }
      for (const listener of [...this.listeners]) listener(up);
    } finally {
      this.checking = false;
    }
  }
}
