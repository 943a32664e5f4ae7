import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { RunFeedEvent } from '@coderoom/contracts';
import { QueueRepository } from '../repositories/queue.repository.js';
import { RunFeedService } from './run-feed.service.js';

/** Position updates are computed at most this often per node, however busy the queue. */
const DEBOUNCE_MS = 250;

/**
 * Tells the watchers of this node's queued runs how far they are from the front: whenever any
 * run leaves the queue, the positions of the local queued runs are read again (one Redis call)
 * and changed ones are sent as `run:status { status: "queued", position }`.
 */
@Injectable()
export class QueuePositionService implements OnModuleDestroy {
  private readonly logger = new Logger(QueuePositionService.name);
  private readonly queued = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly queue: QueueRepository,
    private readonly feed: RunFeedService,
  ) {}

  track(runId: string, position: number): void {
    this.queued.set(runId, position);
  }

  /** Called for every feed event this node receives. */
  observe(e: RunFeedEvent): void {
    if (e.kind === 'run:status' && e.event.status !== 'queued') {
      this.queued.delete(e.event.runId);
      this.schedule();
    } else if (e.kind === 'run:finished') {
      this.queued.delete(e.event.runId);
      this.schedule();
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer || this.queued.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh().catch((err: Error) => this.logger.warn(`queue positions: ${err.message}`));
    }, DEBOUNCE_MS);
  }

  private async refresh(): Promise<void> {
    const ids = [...this.queued.keys()];
    const places = await this.queue.positions(ids);
    const at = new Date().toISOString();
    for (const runId of ids) {
      const place = places.get(runId);
      const before = this.queued.get(runId);
      // Not in the wait list: a worker has it (its status event is on the way) or it is gone.
      if (place === undefined || before === undefined || place === before) continue;
      this.queued.set(runId, place);
      this.feed.dispatch({
        kind: 'run:status',
        event: { runId, status: 'queued', position: place, at },
      });
    }
  }
}
