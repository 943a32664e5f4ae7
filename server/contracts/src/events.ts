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
import type {
  DashboardUpdate,
  DashboardWatchPayload,
  DashboardWatchResult,
  DocAwarenessEvent,
  DocAwarenessPayload,
  DocSyncPayload,
  DocSyncResult,
  DocUpdateEvent,
  DocUpdatePayload,
  ProblemCreatePayload,
  ProblemGetPayload,
  ProblemResult,
  SessionBroadcastEvent,
  SessionBroadcastPayload,
  SessionClosedEvent,
  SessionCreatePayload,
  SessionIdPayload,
  SessionInstructorsPayload,
  SessionJoinPayload,
  SessionLockPayload,
  SessionLockedEvent,
  SessionPresenceEvent,
  SessionResult,
  SessionSharedEvent,
  SessionSharePayload,
} from './sessions.js';
import type { DashboardCodePayload, DashboardCodeResult, ProblemListResult } from './instructor.js';

/** Client-to-server events (API.md "Runs"). Every one takes an acknowledgement. */
export interface ClientToServerEvents {
  'run:start': (payload: RunStartPayload, ack: AckFn<RunStartResult>) => void;
  'run:input': (payload: RunInputPayload, ack: AckFn<object>) => void;
  'run:cancel': (payload: RunIdPayload, ack: AckFn<object>) => void;
  'run:watch': (payload: RunWatchPayload, ack: AckFn<RunWatchResult>) => void;
  'run:unwatch': (payload: RunIdPayload, ack: AckFn<object>) => void;
  'languages:list': (payload: object, ack: AckFn<LanguagesListResult>) => void;
  // Classroom (API.md "Sessions (classroom), version 1.1").
  'session:create': (payload: SessionCreatePayload, ack: AckFn<SessionResult>) => void;
  'session:join': (payload: SessionJoinPayload, ack: AckFn<SessionResult>) => void;
  'session:get': (payload: SessionIdPayload, ack: AckFn<SessionResult>) => void;
  'session:leave': (payload: SessionIdPayload, ack: AckFn<object>) => void;
  'session:close': (payload: SessionIdPayload, ack: AckFn<object>) => void;
  'session:instructors': (payload: SessionInstructorsPayload, ack: AckFn<object>) => void;
  'session:lock': (payload: SessionLockPayload, ack: AckFn<object>) => void;
  'session:broadcast': (payload: SessionBroadcastPayload, ack: AckFn<object>) => void;
  'session:share': (payload: SessionSharePayload, ack: AckFn<object>) => void;
  'problem:create': (payload: ProblemCreatePayload, ack: AckFn<ProblemResult>) => void;
  'problem:get': (payload: ProblemGetPayload, ack: AckFn<ProblemResult>) => void;
  'doc:sync': (payload: DocSyncPayload, ack: AckFn<DocSyncResult>) => void;
  'doc:update': (payload: DocUpdatePayload, ack: AckFn<object>) => void;
  'doc:awareness': (payload: DocAwarenessPayload, ack: AckFn<object>) => void;
  'dashboard:watch': (payload: DashboardWatchPayload, ack: AckFn<DashboardWatchResult>) => void;
  'dashboard:unwatch': (payload: SessionIdPayload, ack: AckFn<object>) => void;
  // The instructor's screens (instructor.ts).
  'problem:list': (payload: object, ack: AckFn<ProblemListResult>) => void;
  'dashboard:code': (payload: DashboardCodePayload, ack: AckFn<DashboardCodeResult>) => void;
}

/** Server-to-client events. */
export interface ServerToClientEvents {
  'run:status': (e: RunStatusEvent) => void;
  'run:output': (e: OutputChunk) => void;
  'run:test': (e: RunTestEvent) => void;
  'run:finished': (e: RunFinishedEvent) => void;
  'session:presence': (e: SessionPresenceEvent) => void;
  'session:closed': (e: SessionClosedEvent) => void;
  'session:broadcast': (e: SessionBroadcastEvent) => void;
  'session:locked': (e: SessionLockedEvent) => void;
  'session:shared': (e: SessionSharedEvent) => void;
  'doc:update': (e: DocUpdateEvent) => void;
  'doc:awareness': (e: DocAwarenessEvent) => void;
  'dashboard:update': (e: DashboardUpdate) => void;
}

export const CLIENT_EVENTS = [
  'run:start',
  'run:input',
  'run:cancel',
  'run:watch',
  'run:unwatch',
  'languages:list',
  'session:create',
  'session:join',
  'session:get',
  'session:leave',
  'session:close',
  'session:instructors',
  'session:lock',
  'session:broadcast',
  'session:share',
  'problem:create',
  'problem:get',
  'doc:sync',
  'doc:update',
  'doc:awareness',
  'dashboard:watch',
  'dashboard:unwatch',
  'problem:list',
  'dashboard:code',
] as const satisfies readonly (keyof ClientToServerEvents)[];

export const SERVER_EVENTS = [
  'run:status',
  'run:output',
  'run:test',
  'run:finished',
  'session:presence',
  'session:closed',
  'session:broadcast',
  'session:locked',
  'session:shared',
  'doc:update',
  'doc:awareness',
  'dashboard:update',
] as const satisfies readonly (keyof ServerToClientEvents)[];

/**
 * One event of a run's feed, published by whoever moves the run (worker, or the gateway for a
 * run cancelled while queued) on the run's feed channel (`redisKeys.feedChannel`), which the
 * gateway nodes with watchers of the run subscribe to. Gateways forward it to the sockets that
 * watch the run, each from its own cursor, which is what makes `run:watch` exact.
 */
export type RunFeedEvent =
  | { kind: 'run:status'; event: RunStatusEvent }
  | { kind: 'run:output'; event: OutputChunk }
  | { kind: 'run:test'; event: RunTestEvent }
  | { kind: 'run:finished'; event: RunFinishedEvent };

/**
 * Events between nodes (socket.io server-side emits over the Redis adapter): none today. Run
 * feeds travel on per-run Redis channels instead, so a node receives only the runs it serves.
 */
export type InterServerEvents = Record<never, never>;
