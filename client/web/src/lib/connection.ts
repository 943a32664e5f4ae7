import {
  CoderoomClient,
  fetchDevToken,
  type ConnectionState as SdkConnectionState,
  type CoderoomSocket,
  type LanguageInfo,
  type SocketIoOptions,
} from '@coderoom/sdk';
import { toUiError, type UiError } from './errors';
import { Store } from './store';

export type ConnectionView =
  | { kind: 'connecting'; message?: string }
  | { kind: 'connected' }
  | { kind: 'reconnecting'; message?: string }
  | { kind: 'error'; message: string; retrying: boolean };

export interface ConnectionState {
  name: string;
  connection: ConnectionView;
  languages: readonly LanguageInfo[];
  languagesLoaded: boolean;
  languagesError: UiError | null;
}

export interface ConnectionOptions {
  name: string;
  /** The gateway's URL (config.ts). */
  url: string;
  /** Gets a token for `name` (default: `POST /api/auth/dev-token` as a student). */
  getToken?: (name: string) => Promise<string>;
  /** Creates the socket (default: socket.io-client's `io`, through the SDK); for tests. */
  connect?: (url: string, opts: SocketIoOptions) => CoderoomSocket;
  ackTimeoutMs?: number;
}

/**
 * The page's one connection to the gateway, on `@coderoom/sdk`: the SDK keeps the socket up (a
 * fresh token for every attempt) and resumes runs after a reconnect; this class folds its
 * connection state and the language list into a store for the screens. Screens reach the API
 * through `client` (runs now; sessions and the dashboard as the SDK grows them).
 */
export class Connection extends Store<ConnectionState> {
  readonly client: CoderoomClient;
  /** The gateway's URL (for HTTP routes such as the results CSV). */
  readonly url: string;
  /** A fresh token for this user (for HTTP routes: `Authorization: Bearer`). */
  readonly token: () => Promise<string>;
  #started = false;

  constructor(opts: ConnectionOptions) {
    super({
      name: opts.name,
      connection: { kind: 'connecting' },
      languages: [],
      languagesLoaded: false,
      languagesError: null,
    });
    const getToken =
      opts.getToken ??
      (async (name: string) => (await fetchDevToken(opts.url, { name, role: 'student' })).token);
    this.url = opts.url;
    this.token = () => getToken(opts.name);
    this.client = new CoderoomClient(
      opts.url,
      { getToken: this.token },
      {
        path: '/socket.io',
        ...(opts.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: opts.ackTimeoutMs }),
        ...(opts.connect ? { createSocket: opts.connect } : {}),
      },
    );
    this.client.on('state', (s) => this.#onState(s));
  }

  /** Connects in the background and keeps reconnecting. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.client.open();
  }

  /** Manual reconnect (after an error, or to skip the wait before the next attempt). */
  reconnect(): void {
    this.client.reconnect();
  }

  close(): void {
    this.client.close();
  }

  #onState(s: SdkConnectionState): void {
    this.patch({ connection: toConnectionView(s) });
    if (s.status === 'connected' && !this.value.languagesLoaded) void this.#loadLanguages();
  }

  async #loadLanguages(): Promise<void> {
    try {
      const languages = await this.client.languages();
      this.patch({ languages, languagesLoaded: true, languagesError: null });
    } catch (e) {
      this.patch({ languagesError: toUiError(e) });
    }
  }
}

/** The page's view of the SDK's connection state. */
export function toConnectionView(s: SdkConnectionState): ConnectionView {
  switch (s.status) {
    case 'idle':
      return { kind: 'connecting' };
    case 'connected':
      return { kind: 'connected' };
    case 'connecting':
    case 'reconnecting': {
      const { error } = s;
      if (error?.code === 'UNAUTHORIZED') {
        return { kind: 'reconnecting', message: 'token refused, getting a new one' };
      }
      if (error) return { kind: 'error', message: error.message, retrying: true };
      if (s.status === 'connecting') return { kind: 'connecting' };
      return {
        kind: 'reconnecting',
        message: s.reason === 'io server disconnect' ? 'disconnected by the server' : s.reason,
      };
    }
    case 'disconnected':
      return { kind: 'error', message: s.error?.message ?? s.reason, retrying: false };
    case 'closed':
      return { kind: 'error', message: 'closed', retrying: false };
  }
}

/** Resolves once `connection` is connected (at once if it is). */
export function whenConnected(connection: Store<ConnectionState>): Promise<void> {
  return new Promise((resolve) => {
    let off: (() => void) | null = null;
    let done = false;
    off = connection.subscribe((s) => {
      if (done || s.connection.kind !== 'connected') return;
      done = true;
      resolve();
      off?.();
    });
    if (done) off();
  });
}
