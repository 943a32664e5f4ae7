/**
 * `@coderoom/sdk`: a typed client of the Coderoom WebSocket API.
 * See README.md for examples; the protocol is described in the API contract (API.md).
 */
export {
  CoderoomClient,
  type ClientEvents,
  type ClientOptions,
  type ConnectionState,
  type Credentials,
  type SocketIoOptions,
  type WatchOptions,
} from './client.js';
export { Run, type RunEvents } from './run.js';
export { Session, type BroadcastRequest, type LockedBy, type SessionEvents } from './session.js';
export { SessionDocument, type SessionDocumentEvents } from './session-document.js';
export { Dashboard, type DashboardEvents, type DashboardOptions } from './dashboard.js';
export { applyDashboardUpdate, DASHBOARD_RUNS } from './dashboard-state.js';
export {
  CLIENT_ERROR_CODES,
  CoderoomError,
  CoderoomTimeoutError,
  type ClientErrorCode,
  type CoderoomErrorCode,
  type CoderoomErrorOptions,
} from './errors.js';
export { fetchDevToken } from './dev-token.js';
export { OutputSequencer, type PushOutcome, type PushResult } from './sequencer.js';
export type { CoderoomSocket, PayloadOf, RequestEvent, ResultOf } from './types.js';

// The API's types, so that applications need not depend on @coderoom/contracts themselves.
export type {
  Activity,
  ApiError,
  AuthUser,
  ClientToServerEvents,
  DashboardCodeResult,
  DashboardRun,
  DashboardSnapshot,
  DashboardUpdate,
  ErrorCode,
  LanguageInfo,
  Member,
  MemberRole,
  OutputChunk,
  OutputStream,
  ProblemCreatePayload,
  ProblemView,
  Progress,
  Role,
  RunFinishedEvent,
  RunMode,
  RunResult,
  RunStartPayload,
  RunStatus,
  RunStatusEvent,
  RunSummary,
  RunTestEvent,
  ServerToClientEvents,
  SessionBroadcastEvent,
  SessionCreatePayload,
  SessionLockedEvent,
  SessionPresenceEvent,
  SessionSharedEvent,
  SessionStatus,
  SessionView,
  SourceFile,
  TestVerdict,
  Verdict,
} from '@coderoom/contracts';
