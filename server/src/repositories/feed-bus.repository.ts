import { Injectable } from '@nestjs/common';
import type { Server } from 'socket.io';
import type {
  ClientToServerEvents,
  InterServerEvents,
  RunFeedEvent,
  ServerToClientEvents,
} from '@coderoom/contracts';

export type CoderoomServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents>;

/**
 * Run feed transport between nodes: socket.io server-side emits over the Redis adapter. Workers
 * publish through the Redis emitter; a gateway publishes here (rare: a run cancelled while still
 * queued), and its own handler gets the event too.
 */
@Injectable()
export class FeedBusRepository {
  private server: CoderoomServer | null = null;
  private handler: (e: RunFeedEvent) => void = () => undefined;

  /** Called once the socket.io server exists: `handler` receives every node's feed events. */
  attach(server: CoderoomServer, handler: (e: RunFeedEvent) => void): void {
    this.server = server;
    this.handler = handler;
    server.of('/').on('run:feed', (e: RunFeedEvent) => handler(e));
  }

  publish(e: RunFeedEvent): void {
    this.server?.serverSideEmit('run:feed', e);
    this.handler(e);
  }
}
