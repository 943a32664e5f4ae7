import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { RunFeedEvent } from '@coderoom/contracts';
import { QueueRepository } from '../repositories/queue.repository.js';
import { RunFeedService } from './run-feed.service.js';

/** Position updates are computed at most this often per node, however busy the queue. */
const DEBOUNCE_MS = 250;
/**
 * ...and at least this often while this node has queued runs: with fair share, a run admitted
 * through another node may be placed ahead of them, and no event tells this node of it.
 */
const POLL_MS = 1000;

/**
 * Tells the watchers of this node's queued runs their place in the queue: whenever a run this
 * node serves leaves the queue or this node enqueues one (which may go ahead of others), and
 * every POLL_MS (runs of other nodes leave the queue too, and this node does not hear their
 * feeds), the positions of the local queued runs are read again (one Redis call) and changed
 * ones are sent as `run:status { status: "queued", position }`.
 */
@Injectable()
export class QueuePositionService implements OnModuleDestroy {
  private readonly logger = new Logger(QueuePositionService.name);
  private readonly queued = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private poller: NodeJS.Timeout | null = null;

  constructor(
    private readonly queue: QueueRepository,
    private readonly feed: RunFeedService,
  ) {}

  track(runId: string, position: number): void {
    this.queued.set(runId, position);
    this.poller ??= setInterval(() => {
      if (this.queued.size > 0) return this.schedule();
      if (this.poller) clearInterval(this.poller);
      this.poller = null;
    }, POLL_MS);
  }

  /** This node enqueued a run: it may have been placed ahead of others. */
  enqueued(): void {
    this.schedule();
  }

  /** Called for every feed event this node receives (those of the runs it has watchers of). */
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
    if (this.poller) clearInterval(this.poller);
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
      // Not waiting: a worker has it (its status event is on the way) or it is gone.
      if (place === undefined) this.queued.delete(runId);
      if (place === undefined || before === undefined || place === before) continue;
      this.queued.set(runId, place);
      this.feed.dispatch({
        kind: 'run:status',
        event: { runId, status: 'queued', position: place, at },
      });
    }
  }
}
