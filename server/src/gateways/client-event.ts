import type { Socket } from 'socket.io';
import type { z } from 'zod';
import {
  CoderoomError,
  type AckFn,
  type AuthUser,
  type ClientToServerEvents,
  type InterServerEvents,
  type Role,
  type ServerToClientEvents,
} from '@coderoom/contracts';
import type { FeedSink } from '../services/run-feed.service.js';

export type ClientEvent = keyof ClientToServerEvents;
/** The ack result of an event (what follows `ok: true`), from the contracts' event map. */
export type ResultOf<E extends ClientEvent> =
  Parameters<ClientToServerEvents[E]>[1] extends AckFn<infer T> ? T : never;

export type CoderoomSocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  InterServerEvents,
  { user: AuthUser }
>;

/** What a handler knows about the socket that sent the event. */
export interface EventContext {
  readonly user: AuthUser;
  readonly socket: CoderoomSocket;
  /** Where this socket's run events go (RunFeedService). */
  readonly sink: FeedSink;
  /** Work to do once the ack is on its way (e.g. releasing live events held during a watch). */
  afterAck(fn: () => void): void;
}

/**
 * Who may send an event, checked after validation and before the handler; throws FORBIDDEN
 * (or NOT_FOUND, CONFLICT) to refuse. Rules that need stored data (a session's membership, a
 * run's owner) are async.
 */
export type Allow<I> = (user: AuthUser, input: I) => void | Promise<void>;

/**
 * One client event, declared in one place: its payload schema, who may send it, what it costs
 * from the socket's rate budget, and its handler. The wiring (ack shape, validation, rate
 * limit, error translation, metrics, logging) is written once, in SocketGateway.
 */
export interface ClientEventDef<E extends ClientEvent = ClientEvent> {
  readonly event: E;
  readonly schema: z.ZodType;
  /** Called with the schema's output. */
  readonly allow: Allow<never>;
  /** Tokens taken from the socket's bucket (SOCKET_EVENTS_PER_SECOND); 1 for an ordinary event. */
  readonly cost: number;
  /** Called with the schema's output, once `allow` passed. */
  readonly handle: (input: never, ctx: EventContext) => ResultOf<E> | Promise<ResultOf<E>>;
}

/**
 * Declares an event. The payload type flows from the schema into `allow` and `handle`; the
 * result type comes from the contracts' event map.
 */
export function defineEvent<E extends ClientEvent, S extends z.ZodType>(
  event: E,
  def: {
    schema: S;
    allow: Allow<z.output<S>>;
    cost?: number;
    handle(input: z.output<S>, ctx: EventContext): ResultOf<E> | Promise<ResultOf<E>>;
  },
): ClientEventDef<E> {
  return {
    event,
    schema: def.schema,
    allow: def.allow,
    cost: def.cost ?? 1,
    handle: (input, ctx) => def.handle(input, ctx),
  };
}

/**
 * A family of events (runs, sessions, problems, documents, dashboard): one handler class each.
 * `disconnected` runs when a socket of the family's users goes away.
 */
export interface EventFamily {
  readonly events: readonly ClientEventDef[];
  disconnected?(ctx: EventContext): void;
}

// ---------------------------------------------------------------------------------------------
// Authorization rules that need nothing but the token.

/** Anyone with a valid token. */
export const anyone: Allow<unknown> = () => undefined;

/** Users whose token role is one of `roles`. */
export function roles(...allowed: Role[]): Allow<unknown> {
  return (user) => {
    if (!allowed.includes(user.role)) {
      throw new CoderoomError('FORBIDDEN', `only ${allowed.join(' or ')} accounts may do this`);
    }
  };
}
