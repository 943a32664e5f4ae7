import type { AckFn } from './errors.js';
import type {
  LanguagesListResult,
  OutputChunk,
  RunFinishedEvent,
  RunIdPayload,
  RunInputPayload,
  RunStartPayload,
  RunStartResult,
  RunStatusEvent,
  RunTestEvent,
  RunWatchPayload,
  RunWatchResult,
} from './runs.js';

/** Client-to-server events (API.md "Runs"). Every one takes an acknowledgement. */
export interface ClientToServerEvents {
  'run:start': (payload: RunStartPayload, ack: AckFn<RunStartResult>) => void;
  'run:input': (payload: RunInputPayload, ack: AckFn<object>) => void;
  'run:cancel': (payload: RunIdPayload, ack: AckFn<object>) => void;
  'run:watch': (payload: RunWatchPayload, ack: AckFn<RunWatchResult>) => void;
  'run:unwatch': (payload: RunIdPayload, ack: AckFn<object>) => void;
  'languages:list': (payload: object, ack: AckFn<LanguagesListResult>) => void;
}

/** Server-to-client events. */
export interface ServerToClientEvents {
  'run:status': (e: RunStatusEvent) => void;
  'run:output': (e: OutputChunk) => void;
  'run:test': (e: RunTestEvent) => void;
  'run:finished': (e: RunFinishedEvent) => void;
}

export const CLIENT_EVENTS = [
  'run:start',
  'run:input',
  'run:cancel',
  'run:watch',
  'run:unwatch',
  'languages:list',
] as const satisfies readonly (keyof ClientToServerEvents)[];

export const SERVER_EVENTS = [
  'run:status',
  'run:output',
  'run:test',
  'run:finished',
] as const satisfies readonly (keyof ServerToClientEvents)[];

/**
 * One event of a run's feed, published by whoever moves the run (worker, or the gateway for a
 * run cancelled while queued) to every gateway node. Gateways forward it to the sockets that
 * watch the run, each from its own cursor, which is what makes `run:watch` exact.
 */
export type RunFeedEvent =
  | { kind: 'run:status'; event: RunStatusEvent }
  | { kind: 'run:output'; event: OutputChunk }
  | { kind: 'run:test'; event: RunTestEvent }
  | { kind: 'run:finished'; event: RunFinishedEvent };

/** Events between nodes (socket.io server-side emits over the Redis adapter). */
export interface InterServerEvents {
  'run:feed': (e: RunFeedEvent) => void;
  /** A gateway's own check that feed messages reach it through Redis (gates its connections, /health, /ready). */
  'feed:probe': (nonce: string) => void;
}
