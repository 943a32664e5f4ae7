import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Emitter } from '@socket.io/redis-emitter';
import type { Server } from 'socket.io';
import type {
  ClientToServerEvents,
  InterServerEvents,
  RunFeedEvent,
  ServerToClientEvents,
} from '@coderoom/contracts';
import { RedisRepository } from './redis.repository.js';

/** How often a node checks that the feed reaches it, once it did. */
const PROBE_EVERY_MS = 5000;
/** A probe not back within this counts as lost. */
const PROBE_TIMEOUT_MS = 5000;
/** Lost probes in a row before the node counts as deaf (one may be a slow moment). */
const LOST_PROBES = 2;

export type CoderoomServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents>;

/**
 * Run feed transport between nodes: socket.io server-side emits over the Redis adapter. Workers
 * publish through the Redis emitter; a gateway publishes here (rare: a run cancelled while still
 * queued), and its own handler gets the event too.
 */
@Injectable()
export class FeedBusRepository implements OnApplicationShutdown {
  private readonly logger = new Logger(FeedBusRepository.name);
  private server: CoderoomServer | null = null;
  private handler: (e: RunFeedEvent) => void = () => undefined;
  private readonly emitter: Emitter<InterServerEvents>;
  private readonly probes = new Map<string, () => void>();
  private timer: NodeJS.Timeout | null = null;
  /** True while the last probe came back: feed events published in Redis reach this node. */
  healthy = false;
  /** True once a probe came back: until then the node takes no connections. */
  started = false;
  private lost = 0;

  constructor(private readonly redis: RedisRepository) {
    // The adapter's publishing connection waits out an outage (a rejected publish would be unhandled).
    this.emitter = new Emitter<InterServerEvents>(redis.adapterPub);
  }

  /** Called once the socket.io server exists: `handler` receives every node's feed events. */
  attach(server: CoderoomServer, handler: (e: RunFeedEvent) => void): void {
    this.server = server;
    this.handler = handler;
    server.of('/').on('run:feed', (e: RunFeedEvent) => handler(e));
    server.of('/').on('feed:probe', (nonce: string) => this.probes.get(nonce)?.());
    this.schedule(0);
  }

  publish(e: RunFeedEvent): void {
    this.server?.serverSideEmit('run:feed', e);
    this.handler(e);
  }

  /**
   * Sends a probe the way workers send feed events (the Redis emitter) and waits for it to come
   * back through this node's adapter subscription. Until the first one does, the node is not
   * ready: a run started earlier could miss its first events.
   */
  async probe(): Promise<boolean> {
    // While Redis is away a probe would only wait in the client's queue (and pile up there).
    if (this.redis.adapterPub.status !== 'ready') return false;
    const nonce = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    try {
      const back = new Promise<boolean>((resolve) => {
        this.probes.set(nonce, () => resolve(true));
        timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
      });
      this.emitter.serverSideEmit('feed:probe', nonce);
      return await back;
    } finally {
      clearTimeout(timer);
      this.probes.delete(nonce);
    }
  }

  onApplicationShutdown(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      void this.probe().then((ok) => {
        this.lost = ok ? 0 : this.lost + 1;
        const healthy = ok || (this.started && this.lost < LOST_PROBES);
        if (healthy !== this.healthy) {
          if (healthy) this.logger.log('the run feed reaches this node');
          else this.logger.error('the run feed does not reach this node');
        }
        this.healthy = healthy;
        this.started ||= ok;
        if (this.timer) this.schedule(ok ? PROBE_EVERY_MS : 200);
      });
    }, ms);
  }
}
