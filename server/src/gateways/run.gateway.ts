import { Inject, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import {
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import type { ExtendedError, Socket } from 'socket.io';
import {
  CLIENT_EVENTS,
  CoderoomError,
  emptySchema,
  runIdSchema,
  runInputSchema,
  runWatchSchema,
  type ApiError,
  type AuthUser,
  type ClientToServerEvents,
  type InterServerEvents,
  type RunFeedEvent,
  type ServerToClientEvents,
} from '@coderoom/contracts';
import { unavailable } from '../services/unavailable.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { FeedBusRepository, type CoderoomServer } from '../repositories/feed-bus.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { TokenBucket } from '../services/token-bucket.js';
import { AuthService } from '../services/auth.service.js';
import type { FeedSink } from '../services/run-feed.service.js';
import { RunService, parsePayload } from '../services/run.service.js';

type CoderoomSocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  InterServerEvents,
  { user: AuthUser }
>;

/** What a handler answers: the ack body, and work to do once the ack is on its way. */
interface Answer {
  body: object;
  afterAck?: () => void;
}

const KNOWN_EVENTS = new Set<string>(CLIENT_EVENTS);

/**
 * The socket.io edge: authenticates the handshake, validates each event, makes one call into
 * RunService and acknowledges. A bad payload is answered, never thrown at the connection.
 */
@WebSocketGateway()
export class RunGateway
  implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, BeforeApplicationShutdown
{
  private readonly logger = new Logger(RunGateway.name);
  private server: CoderoomServer | null = null;
  private draining = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly auth: AuthService,
    private readonly runs: RunService,
    private readonly bus: FeedBusRepository,
    private readonly metrics: MetricsRepository,
  ) {}

  afterInit(server: CoderoomServer): void {
    this.server = server;
    server.use((socket, next) => {
      if (this.draining || !this.bus.started) {
        // Shutting down: refuse, so the client's retry lands on another node. Starting (the
        // run feed does not reach this node yet): a run started now could miss its first events.
        const err: ExtendedError = new Error(this.draining ? 'shutting down' : 'starting');
        err.data = { code: 'BUSY', retryAfterMs: this.draining ? 1000 : 250 };
        next(err);
        return;
      }
      const token: unknown = (socket.handshake.auth as Record<string, unknown> | undefined)?.token;
      this.auth.verify(token).then(
        (user) => {
          (socket as CoderoomSocket).data.user = user;
          next();
        },
        () => {
          const err: ExtendedError = new Error('unauthorized');
          err.data = { code: 'UNAUTHORIZED' };
          next(err);
        },
      );
    });
    this.bus.attach(server, (e) => this.runs.receiveFeed(e));
  }

  handleConnection(socket: CoderoomSocket): void {
    const user = socket.data.user;
    this.metrics.socketConnected(1);
    const sink: FeedSink = {
      id: socket.id,
      send: (e) => {
        this.metrics.eventOut(e.kind);
        sendFeedEvent(socket, e);
      },
    };
    const bucket = new TokenBucket(this.config.socketEventsPerSecond, this.config.socketEventBurst);
    const limited = (): ApiError | null => {
      const wait = bucket.take();
      return wait === 0
        ? null
        : {
            code: 'RATE_LIMITED',
            message: 'too many events: slow down',
            retryAfterMs: wait,
            details: { limit: 'events' },
          };
    };

    this.handle(socket, limited, 'run:start', async (p) => ({
      body: await this.runs.start(user, p, sink),
    }));
    this.handle(socket, limited, 'run:cancel', async (p) => {
      await this.runs.cancel(user, parsePayload(runIdSchema, p).runId);
      return { body: {} };
    });
    this.handle(socket, limited, 'run:watch', async (p) => {
      const { runId, afterSeq } = parsePayload(runWatchSchema, p);
      const { answer, deliveredSeq } = await this.runs.watch(user, runId, afterSeq ?? 0, sink);
      return {
        body: answer,
        afterAck: () => this.runs.completeWatch(runId, sink.id, deliveredSeq),
      };
    });
    this.handle(socket, limited, 'run:unwatch', (p) => {
      this.runs.unwatch(parsePayload(runIdSchema, p).runId, sink.id);
      return { body: {} };
    });
    this.handle(socket, limited, 'run:input', async (p) => {
      const { runId, data, eof } = parsePayload(runInputSchema, p);
      await this.runs.input(user, runId, data, eof ?? false);
      return { body: {} };
    });
    this.handle(socket, limited, 'languages:list', async (p) => {
      parsePayload(emptySchema, p);
      return { body: { languages: await this.runs.listLanguages() } };
    });
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event === 'string' && KNOWN_EVENTS.has(event)) return;
      const ack = args[args.length - 1];
      if (typeof ack !== 'function') return;
      const error = limited() ?? {
        code: 'INVALID',
        message: `unknown event "${String(event).slice(0, 64)}"`,
      };
      (ack as (response: unknown) => void)({ ok: false, error });
    });
  }

  /**
   * SIGTERM: stop accepting, then close every transport. A closed transport (unlike a server
   * "disconnect") makes socket.io clients reconnect by themselves, through the balancer to
   * another node, where they resume their runs with `run:watch { afterSeq }`.
   */
  beforeApplicationShutdown(): void {
    this.draining = true;
    const sockets = this.server ? [...this.server.of('/').sockets.values()] : [];
    this.logger.log(`draining: closing ${sockets.length} connection(s) so clients move on`);
    for (const socket of sockets) socket.conn.close();
  }

  handleDisconnect(socket: CoderoomSocket): void {
    this.metrics.socketConnected(-1);
    this.runs.disconnect(socket.id);
  }

  private handle(
    socket: CoderoomSocket,
    limited: () => ApiError | null,
    event: keyof ClientToServerEvents,
    handler: (payload: unknown) => Promise<Answer> | Answer,
  ): void {
    // Registered untyped on purpose: clients may send anything; the handler validates it.
    (socket as unknown as Socket).on(event, (...args: unknown[]) => {
      const last = args[args.length - 1];
      // Every event takes an acknowledgement; without one there is nobody to answer.
      if (typeof last !== 'function') return;
      const ack = last as (response: unknown) => void;
      const tooMany = limited();
      if (tooMany) {
        this.metrics.eventIn(event, tooMany.code);
        ack({ ok: false, error: tooMany });
        return;
      }
      const payload = args.length > 1 ? args[0] : undefined;
      Promise.resolve()
        .then(() => handler(payload))
        .then(
          (answer) => {
            this.metrics.eventIn(event, 'ok');
            ack({ ok: true, ...answer.body });
            answer.afterAck?.();
          },
          (err: unknown) => {
            const error = this.toApiError(socket, event, err);
            this.metrics.eventIn(event, error.code);
            ack({ ok: false, error });
          },
        );
    });
  }

  private toApiError(socket: CoderoomSocket, event: string, err: unknown): ApiError {
    if (err instanceof CoderoomError) return err.toApiError();
    const outage = unavailable(err);
    if (outage) {
      this.logger.warn({ msg: `${event}: ${(err as Error).message}`, event, socketId: socket.id });
      return outage.toApiError();
    }
    this.metrics.error();
    this.logger.error({
      msg: `${event} failed`,
      event,
      socketId: socket.id,
      userId: socket.data.user.id,
      err: (err as Error)?.stack ?? String(err),
    });
    return { code: 'INTERNAL', message: 'internal error' };
  }
}

function sendFeedEvent(socket: CoderoomSocket, e: RunFeedEvent): void {
  switch (e.kind) {
    case 'run:status':
      socket.emit('run:status', e.event);
      return;
    case 'run:output':
      socket.emit('run:output', e.event);
      return;
    case 'run:test':
      socket.emit('run:test', e.event);
      return;
    case 'run:finished':
      socket.emit('run:finished', e.event);
      return;
    default: {
      const never: never = e;
      throw new Error(`unknown feed event ${JSON.stringify(never)}`);
    }
  }
}
