import { Injectable } from '@nestjs/common';
import type { Server } from 'socket.io';
import type {
  ClientToServerEvents,
  InterServerEvents,
  RunFeedEvent,
  ServerToClientEvents,
} from '@coderoom/contracts';
import { RunFeedService } from '../services/run-feed.service.js';

export type CoderoomServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents>;

/**
 * Publishes run feed events from this gateway (rare: a run cancelled while still queued) to
 * every node, itself included. Workers publish the same events through the Redis emitter.
 */
@Injectable()
export class FeedBusRepository {
  private server: CoderoomServer | null = null;

  constructor(private readonly feed: RunFeedService) {}

  /** Called once the socket.io server exists: listen for feed events from all nodes. */
  attach(server: CoderoomServer): void {
    this.server = server;
    server.of('/').on('run:feed', (e: RunFeedEvent) => this.feed.dispatch(e));
  }

  publish(e: RunFeedEvent): void {
    this.server?.serverSideEmit('run:feed', e);
    this.feed.dispatch(e);
  }
}
