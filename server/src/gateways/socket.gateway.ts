import { Inject, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import {
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import type { ExtendedError, Socket } from 'socket.io';
import { CLIENT_EVENTS, type ApiError, type RunFeedEvent } from '@coderoom/contracts';
import { translateError } from '../common/api-error.js';
import { parsePayload } from '../common/parse-payload.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { FeedBusRepository, type CoderoomServer } from '../repositories/feed-bus.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { ClassroomBusRepository } from '../repositories/classroom-bus.repository.js';
import { AuthService } from '../services/auth.service.js';
import type { FeedSink } from '../services/run-feed.service.js';
import { RunService } from '../services/run.service.js';
import { TokenBucket } from '../services/token-bucket.js';
import type {
  Allow,
  ClientEvent,
  ClientEventDef,
  CoderoomSocket,
  EventContext,
  EventFamily,
} from './client-event.js';

/** The event families (RunEvents, SessionEvents, ...), provided by AppModule. */
export const EVENT_FAMILIES = Symbol('EVENT_FAMILIES');

/**
 * The socket.io edge, the one place where client events are wired: authenticates the
 * handshake, then for every event declared by a family (see client-event.ts) takes its rate
 * cost, validates the payload, applies its authorization rule, calls its handler and
 * acknowledges, translating errors into the API's shape. A bad payload is answered, never
 * thrown at the connection.
 */
@WebSocketGateway()
export class SocketGateway
  implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, BeforeApplicationShutdown
{
  private readonly logger = new Logger(SocketGateway.name);
  private server: CoderoomServer | null = null;
  private draining = false;
  private readonly defs: ReadonlyMap<string, ClientEventDef>;
  private readonly contexts = new Map<string, EventContext>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(EVENT_FAMILIES) private readonly families: readonly EventFamily[],
    private readonly auth: AuthService,
    private readonly runs: RunService,
    private readonly bus: FeedBusRepository,
    private readonly metrics: MetricsRepository,
    private readonly classroom: ClassroomBusRepository,
  ) {
    this.defs = eventTable(families);
  }

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
      // Kept by socket.io for the connection's lifetime, read only here.
      socket.handshake.auth = {};
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
    this.bus.attach((e) => this.runs.receiveFeed(e));
    this.classroom.attach(server);
  }

  handleConnection(socket: CoderoomSocket): void {
    this.metrics.socketConnected(1);
    const sink: FeedSink = {
      id: socket.id,
      send: (e) => {
        this.metrics.eventOut(e.kind);
        sendFeedEvent(socket, e);
      },
    };
    const ctx = (afterAck: (fn: () => void) => void): EventContext => ({
      user: socket.data.user,
      socket,
      sink,
      afterAck,
    });
    this.contexts.set(
      socket.id,
      ctx(() => undefined),
    );
    const bucket = new TokenBucket(this.config.socketEventsPerSecond, this.config.socketEventBurst);
    const limited = (cost: number): ApiError | null => {
      const wait = bucket.take(cost);
      return wait === 0
        ? null
        : {
            code: 'RATE_LIMITED',
            message: 'too many events: slow down',
            retryAfterMs: wait,
            details: { limit: 'events' },
          };
    };
    // Registered untyped on purpose: clients may send anything; the declaration validates it.
    (socket as unknown as Socket).onAny((event: unknown, ...args: unknown[]) => {
      const ack = args[args.length - 1];
      // Every event takes an acknowledgement; without one there is nobody to answer.
      if (typeof ack !== 'function') return;
      const def = typeof event === 'string' ? this.defs.get(event) : undefined;
      const payload = args.length > 1 ? args[0] : undefined;
      if (!def) {
        const error = limited(1) ?? {
          code: 'INVALID',
          message: `unknown event "${String(event).slice(0, 64)}"`,
        };
        (ack as (response: unknown) => void)({ ok: false, error });
        return;
      }
      this.dispatch(def, payload, ack as (response: unknown) => void, limited, ctx);
    });
  }

  handleDisconnect(socket: CoderoomSocket): void {
    this.metrics.socketConnected(-1);
    const ctx = this.contexts.get(socket.id);
    this.contexts.delete(socket.id);
    if (!ctx) return;
    for (const family of this.families) {
      try {
        family.disconnected?.(ctx);
      } catch (err) {
        this.logger.error({ msg: 'disconnect handler failed', err: (err as Error).stack });
      }
    }
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

  /** The shared wiring of every declared event. */
  private dispatch(
    def: ClientEventDef,
    payload: unknown,
    ack: (response: unknown) => void,
    limited: (cost: number) => ApiError | null,
    makeContext: (afterAck: (fn: () => void) => void) => EventContext,
  ): void {
    const { event } = def;
    const tooMany = limited(def.cost);
    if (tooMany) {
      this.metrics.eventIn(event, tooMany.code);
      ack({ ok: false, error: tooMany });
      return;
    }
    const started = performance.now();
    const after: (() => void)[] = [];
    const ctx = makeContext((fn) => after.push(fn));
    Promise.resolve()
      .then(async () => {
        const input: unknown = parsePayload(def.schema, payload);
        await (def.allow as Allow<unknown>)(ctx.user, input);
        return (def.handle as (i: unknown, c: EventContext) => unknown)(input, ctx);
      })
      .then(
        (body) => {
          this.metrics.eventIn(event, 'ok');
          ack({ ok: true, ...(body as object) });
          for (const fn of after) fn();
          this.logger.debug({ msg: event, event, outcome: 'ok', ms: elapsed(started) });
        },
        (err: unknown) => {
          const { error, kind } = translateError(err);
          this.metrics.eventIn(event, error.code);
          ack({ ok: false, error });
          const fields = { event, socketId: ctx.socket.id, userId: ctx.user.id };
          if (kind === 'internal') {
            this.metrics.error();
            this.logger.error({
              msg: `${event} failed`,
              ...fields,
              err: (err as Error)?.stack ?? String(err),
            });
          } else if (kind === 'outage') {
            this.logger.warn({ msg: `${event}: ${(err as Error).message}`, ...fields });
          } else {
            this.logger.debug({ msg: event, ...fields, outcome: error.code, ms: elapsed(started) });
          }
        },
      );
  }
}

/**
 * Every client event of the contracts, each declared by exactly one family: a missing or
 * doubled declaration stops start-up (and fails socket.gateway.spec.ts).
 */
export function eventTable(families: readonly EventFamily[]): Map<string, ClientEventDef> {
  const defs = new Map<string, ClientEventDef>();
  for (const family of families) {
    for (const def of family.events) {
      if (defs.has(def.event)) throw new Error(`event ${def.event} is declared twice`);
      defs.set(def.event, def);
    }
  }
  const missing = CLIENT_EVENTS.filter((e: ClientEvent) => !defs.has(e));
  if (missing.length) throw new Error(`client events without a declaration: ${missing.join(', ')}`);
  const unknown = [...defs.keys()].filter((e) => !(CLIENT_EVENTS as readonly string[]).includes(e));
  if (unknown.length)
    throw new Error(`declared events not in the contracts: ${unknown.join(', ')}`);
  return defs;
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 10) / 10;
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
