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
  ApiError,
  AuthUser,
  ClientToServerEvents,
  ErrorCode,
  LanguageInfo,
  OutputChunk,
  OutputStream,
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
  SourceFile,
  Verdict,
} from '@coderoom/contracts';
