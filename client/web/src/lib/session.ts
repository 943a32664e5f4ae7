import {
  CoderoomClient,
  type ConnectionState as SdkConnectionState,
  type CoderoomSocket,
  type LanguageInfo,
  type Run,
  type RunFinishedEvent,
  type SocketIoOptions,
} from '@coderoom/sdk';
import { OutputLog, type OutputSegment } from './output';
import { toUiError, type RunPhase, type UiError } from './format';
import { fetchDevToken } from './token';

export type AppSocket = CoderoomSocket;

export type ConnectionState =
  | { kind: 'connecting'; message?: string }
  | { kind: 'connected' }
  | { kind: 'reconnecting'; message?: string }
  | { kind: 'error'; message: string; retrying: boolean };

export interface RunView {
  runId: string | null;
  phase: RunPhase;
  /** Queue position while queued. */
  position: number | null;
  segments: readonly OutputSegment[];
  result: RunFinishedEvent | null;
  /** Last error about this run (start refused, cancel failed, output lost). */
  error: UiError | null;
  cancelling: boolean;
}

export interface SessionState {
  name: string;
  connection: ConnectionState;
  languages: readonly LanguageInfo[];
  languagesLoaded: boolean;
  languagesError: UiError | null;
  run: RunView;
}

export interface RunRequest {
  language: string;
  source: string;
  stdin: string;
}

export interface SessionOptions {
  name: string;
  /** Gateway URL; undefined means the page's own origin. */
  url?: string;
  /** Gets a token for `name` (default: POST /api/auth/dev-token). */
  getToken?: (name: string) => Promise<string>;
  /** Creates the socket (default: socket.io-client's `io`, through the SDK); for tests. */
  connect?: (url: string, opts: SocketIoOptions) => AppSocket;
  /** How long to wait for an acknowledgement. */
  ackTimeoutMs?: number;
}

const IDLE_RUN: RunView = {
  runId: null,
  phase: 'idle',
  position: null,
  segments: [],
  result: null,
  error: null,
  cancelling: false,
};

/**
 * One browser's connection to the gateway and its current run, on `@coderoom/sdk`: the SDK
 * keeps the socket connected (a fresh dev token for every attempt), resumes the run after a
 * reconnect and delivers its output exactly once and in order; this class folds the SDK's
 * connection state and the current run's events into a `SessionState` for the page.
 * Framework-free; a Svelte store by contract (`subscribe`).
 */
export class CoderoomSession {
  readonly #opts: SessionOptions;
  #state: SessionState;
  readonly #listeners = new Set<(s: SessionState) => void>();
  #client: CoderoomClient | null = null;
  #run: Run | null = null;
  /** Unsubscribes from the current run's events. */
  #detach: () => void = () => undefined;
  #log = new OutputLog();
  #cancelRequested = false;
  #destroyed = false;

  constructor(opts: SessionOptions) {
    this.#opts = opts;
    this.#state = {
      name: opts.name,
      connection: { kind: 'connecting' },
      languages: [],
      languagesLoaded: false,
      languagesError: null,
      run: IDLE_RUN,
    };
  }

  get state(): SessionState {
    return this.#state;
  }

  /** Svelte store contract: calls `fn` now and on every change. */
  subscribe(fn: (s: SessionState) => void): () => void {
    this.#listeners.add(fn);
    fn(this.#state);
    return () => this.#listeners.delete(fn);
  }

  /** Gets a token and connects (and keeps reconnecting). */
  start(): void {
    if (this.#destroyed || this.#client) return;
    const { name, url, getToken = (n: string) => fetchDevToken(n), connect } = this.#opts;
    const client = new CoderoomClient(
      url ?? location.origin,
      { getToken: () => getToken(name) },
      {
        path: '/socket.io',
        ...(this.#opts.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: this.#opts.ackTimeoutMs }),
        ...(connect ? { createSocket: connect } : {}),
      },
    );
    this.#client = client;
    client.on('state', (s) => this.#onConnection(s));
    client.open();
  }

  /** Manual reconnect (after an error, or to skip the wait before the next attempt). */
  reconnect(): void {
    if (this.#destroyed || !this.#client) return;
    this.#client.reconnect();
  }

  destroy(): void {
    this.#destroyed = true;
    this.#detach();
    this.#client?.close();
    this.#client = null;
    this.#listeners.clear();
  }

  get canRun(): boolean {
    const { run, connection } = this.#state;
    return connection.kind === 'connected' && (run.phase === 'idle' || run.phase === 'finished');
  }

  /** Starts a run; errors end up in `state.run.error`. */
  async run(req: RunRequest): Promise<void> {
    const client = this.#client;
    if (!client || !this.canRun) return;
    this.#detach();
    this.#run = null;
    this.#log = new OutputLog();
    this.#cancelRequested = false;
    this.#setRun({ ...IDLE_RUN, phase: 'starting' });

    let run: Run;
    try {
      run = await client.run({ language: req.language, source: req.source, stdin: req.stdin });
    } catch (e) {
      this.#setRun({ ...IDLE_RUN, error: toUiError(e) });
      return;
    }
    if (this.#destroyed) return;
    this.#follow(run);
    if (this.#cancelRequested) await this.cancel();
  }

  async cancel(): Promise<void> {
    const { run: view } = this.#state;
    if (view.phase === 'starting') {
      this.#cancelRequested = true;
      this.#setRun({ cancelling: true });
      return;
    }
    const run = this.#run;
    if (!run || run.done || view.phase === 'idle' || view.phase === 'finished') return;
    this.#setRun({ cancelling: true });
    try {
      await run.cancel();
      // The run now ends with run:finished (verdict CANCELLED).
    } catch (e) {
      if (this.#run === run && !run.done) this.#setRun({ cancelling: false, error: toUiError(e) });
    }
  }

  // --- the current run --------------------------------------------------------------------

  /** Shows `run` and follows its events. The SDK has already applied what came before. */
  #follow(run: Run): void {
    this.#run = run;
    this.#log = new OutputLog();
    this.#log.addAll(run.chunks);
    this.#setRun({
      runId: run.id,
      phase: run.status,
      position: run.position,
      segments: this.#log.segments,
      result: run.outcome,
      error: run.error ? toUiError(run.error) : null,
      cancelling: this.#cancelRequested && !run.done,
    });
    const offs = [
      run.on('status', () => this.#setRun({ phase: run.status, position: run.position })),
      run.on('output', (chunk) => {
        if (this.#log.add(chunk) !== 'duplicate') this.#setRun({ segments: this.#log.segments });
      }),
      run.on('finished', (e) =>
        this.#setRun({ phase: 'finished', result: e, position: null, cancelling: false }),
      ),
      run.on('error', (err) =>
        // A lost run will not finish here; otherwise (some output lost) it goes on.
        this.#setRun({
          error: toUiError(err),
          ...(run.error ? { phase: 'finished' as const, cancelling: false } : {}),
        }),
      ),
    ];
    this.#detach = () => offs.forEach((off) => off());
  }

  // --- connection -------------------------------------------------------------------------

  #onConnection(s: SdkConnectionState): void {
    if (this.#destroyed) return;
    this.#set({ connection: toConnectionState(s) });
    if (s.status === 'connected' && !this.#state.languagesLoaded) void this.#loadLanguages();
  }

  async #loadLanguages(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    try {
      const languages = await client.languages();
      this.#set({ languages, languagesLoaded: true, languagesError: null });
    } catch (e) {
      this.#set({ languagesError: toUiError(e) });
    }
  }

  // --- plumbing ---------------------------------------------------------------------------

  #setRun(patch: Partial<RunView>): void {
    this.#set({ run: { ...this.#state.run, ...patch } });
  }

  #set(patch: Partial<SessionState>): void {
    this.#state = { ...this.#state, ...patch };
    for (const fn of this.#listeners) fn(this.#state);
  }
}

/** The page's view of the SDK's connection state. */
export function toConnectionState(s: SdkConnectionState): ConnectionState {
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
