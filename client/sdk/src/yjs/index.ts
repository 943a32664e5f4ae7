/**
 * `@coderoom/sdk/yjs`: binds a Yjs document to a Coderoom session's shared document.
 * Needs the peer dependencies `yjs` and `y-protocols` (the rest of the SDK does not).
 */
export {
  CoderoomYjsProvider,
  DOC_UPDATE_BYTES,
  type CoderoomYjsProviderEvents,
  type CoderoomYjsProviderOptions,
} from './provider.js';
