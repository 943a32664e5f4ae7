import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type {
  ClientToServerEvents,
  LanguageInfo,
  OutputChunk,
  RunFinishedEvent,
  RunStatusEvent,
  ServerToClientEvents,
} from '@coderoom/contracts';
import { OutputLog, type OutputSegment } from './output';
import { toUiError, type RunPhase, type UiError } from './format';
import { fetchDevToken } from './token';

export type AppSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

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
  /** Last error about this run (start refused, cancel failed, watch failed). */
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
  /** Creates the socket (default: socket.io-client's `io`); for tests. */
  connect?: (url: string | undefined, opts: Partial<ManagerOptions & SocketOptions>) => AppSocket;
  /** How long to wait for an acknowledgement. */
  ackTimeoutMs?: number;
}

type Events = ClientToServerEvents;
type PayloadOf<E extends keyof Events> = Parameters<Events[E]>[0];
type AckOf<E extends keyof Events> = Parameters<Parameters<Events[E]>[1]>[0];

const IDLE_RUN: RunView = {
  runId: null,
  phase: 'idle',
  position: null,
  segments: [],
  result: null,
  error: null,
  cancelling: false,
};

/** Events of a run that arrived before `run:start` was acknowledged (its id still unknown). */
type EarlyEvent =
  | { kind: 'status'; e: RunStatusEvent }
  | { kind: 'output'; e: OutputChunk }
  | { kind: 'finished'; e: RunFinishedEvent };

const MAX_EARLY_EVENTS = 1000;
const TOKEN_RETRY_MS = [1000, 2000, 5000, 10000, 15000];
const STABLE_CONNECTION_MS = 10_000;

/**
 * One browser's connection to the gateway and its current run: gets a token, keeps the socket
 * connected (new token on `unauthorized`), starts/cancels runs and folds the live events of the
 * current run into a `SessionState`. Framework-free; a Svelte store by contract (`subscribe`).
 */
export class CoderoomSession {
  readonly #opts: Required<Omit<SessionOptions, 'url'>> & Pick<SessionOptions, 'url'>;
  #state: SessionState;
  readonly #listeners = new Set<(s: SessionState) => void>();
  #socket: AppSocket | null = null;
  #token: string | null = null;
  #tokenAttempt = 0;
  #tokenPending = false;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #log = new OutputLog();
  #early: EarlyEvent[] = [];
  #cancelRequested = false;
  /** The connection (count) on which a run:watch is awaiting its ack, if any. */
  #watchInFlight: number | null = null;
  /** Number of successful connections so far. */
  #connections = 0;
  /** afterSeq of the last gap-triggered watch, so an unfillable gap does not loop. */
  #lastGapWatch = -1;
  /** When the socket last connected; a connection that lasted resets the retry backoff. */
  #connectedAt = 0;
  #destroyed = false;

  constructor(opts: SessionOptions) {
    this.#opts = {
      getToken: (name) => fetchDevToken(name),
      connect: (url, o) => (url === undefined ? io(o) : io(url, o)),
      ackTimeoutMs: 10_000,
      ...opts,
    };
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

  /** Gets a token and connects. */
  start(): void {
    if (this.#destroyed || this.#socket) return;
    void this.#refreshTokenThenConnect();
  }

  /** Manual reconnect (after an error the socket does not retry by itself). */
  reconnect(): void {
    if (this.#destroyed) return;
    this.#clearRetry();
    this.#tokenAttempt = 0;
    if (this.#socket?.connected) return;
    this.#socket?.disconnect();
    void this.#refreshTokenThenConnect();
  }

  destroy(): void {
    this.#destroyed = true;
    this.#clearRetry();
    this.#socket?.disconnect();
    this.#socket?.removeAllListeners();
    this.#socket = null;
    this.#listeners.clear();
  }

  get canRun(): boolean {
    const { run, connection } = this.#state;
    return connection.kind === 'connected' && (run.phase === 'idle' || run.phase === 'finished');
  }

  /** Starts a run; errors end up in `state.run.error`. */
  async run(req: RunRequest): Promise<void> {
    const socket = this.#socket;
    if (!socket || !this.canRun) return;
    this.#log = new OutputLog();
    this.#early = [];
    this.#cancelRequested = false;
    this.#lastGapWatch = -1;
    this.#setRun({ ...IDLE_RUN, phase: 'starting' });

    let ack: AckOf<'run:start'>;
    try {
      ack = await this.#request(socket, 'run:start', {
        language: req.language,
        source: req.source,
        stdin: req.stdin,
      });
    } catch (e) {
      this.#setRun({ ...IDLE_RUN, error: toUiError(e, 'TIMEOUT') });
      return;
    }
    if (!ack.ok) {
      this.#setRun({ ...IDLE_RUN, error: ack.error });
      return;
    }
    this.#setRun({ runId: ack.runId, phase: 'queued', position: ack.position ?? null });
    const early = this.#early.filter((x) => x.e.runId === ack.runId);
    this.#early = [];
    for (const x of early) {
      if (x.kind === 'status') this.#onStatus(x.e);
      else if (x.kind === 'output') this.#onOutput(x.e);
      else this.#onFinished(x.e);
    }
    if (this.#cancelRequested) await this.cancel();
  }

  async cancel(): Promise<void> {
    const { run } = this.#state;
    if (run.phase === 'starting') {
      this.#cancelRequested = true;
      this.#setRun({ cancelling: true });
      return;
    }
    const socket = this.#socket;
    if (!socket || !run.runId || run.phase === 'idle' || run.phase === 'finished') return;
    const runId = run.runId;
    this.#setRun({ cancelling: true });
    let error: UiError | null = null;
    try {
      const ack = await this.#request(socket, 'run:cancel', { runId });
      if (!ack.ok) error = ack.error;
    } catch (e) {
      error = toUiError(e, 'TIMEOUT');
    }
    if (this.#state.run.runId !== runId) return;
    if (error) this.#setRun({ cancelling: false, error });
    // On success the run ends with run:finished (verdict CANCELLED).
  }

  // --- connection -------------------------------------------------------------------------

  async #refreshTokenThenConnect(): Promise<void> {
    if (this.#tokenPending || this.#destroyed) return;
    this.#tokenPending = true;
    try {
      this.#token = await this.#opts.getToken(this.#state.name);
    } catch (e) {
      this.#tokenPending = false;
      this.#setConnection({
        kind: 'error',
        message: `could not get a token: ${toUiError(e).message}`,
        retrying: true,
      });
      this.#scheduleTokenRefresh();
      return;
    }
    this.#tokenPending = false;
    if (this.#destroyed) return;
    if (!this.#socket) this.#socket = this.#createSocket();
    this.#socket.connect();
  }

  #createSocket(): AppSocket {
    const socket = this.#opts.connect(this.#opts.url, {
      path: '/socket.io',
      autoConnect: false,
      // A function, so every (re)connection presents the current token.
      auth: (cb) => cb({ token: this.#token }),
    });

    socket.on('connect', () => {
      const reconnected = this.#connections > 0;
      this.#connections++;
      this.#connectedAt = Date.now();
      this.#setConnection({ kind: 'connected' });
      if (!this.#state.languagesLoaded) void this.#loadLanguages();
      const { run } = this.#state;
      if (reconnected && run.runId && run.phase !== 'idle' && run.phase !== 'finished') {
        void this.#watch(run.runId);
      }
    });

    socket.on('disconnect', (reason) => {
      if (this.#destroyed || reason === 'io client disconnect') return;
      if (reason === 'io server disconnect') {
        // The server closed us on purpose (e.g. the token expired); socket.io will not retry
        // that by itself, so reconnect with a fresh token, backing off if it keeps happening.
        this.#token = null;
        this.#setConnection({ kind: 'reconnecting', message: 'disconnected by the server' });
        this.#scheduleTokenRefresh();
        return;
      }
      this.#setConnection({ kind: 'reconnecting', message: reason });
    });

    socket.on('connect_error', (err) => {
      if (this.#destroyed) return;
      if (err.message === 'unauthorized') {
        // Token missing/expired/rejected: the socket will not retry; get a new token.
        this.#token = null;
        this.#setConnection({ kind: 'reconnecting', message: 'token refused, getting a new one' });
        this.#scheduleTokenRefresh();
        return;
      }
      const message = /poll error|websocket error|timeout/i.test(err.message)
        ? `cannot reach the server (${err.message})`
        : err.message;
      this.#setConnection({ kind: 'error', message, retrying: socket.active });
    });

    socket.on('run:status', (e) => this.#route({ kind: 'status', e }) && this.#onStatus(e));
    socket.on('run:output', (e) => this.#route({ kind: 'output', e }) && this.#onOutput(e));
    socket.on('run:finished', (e) => this.#route({ kind: 'finished', e }) && this.#onFinished(e));
    return socket;
  }

  async #loadLanguages(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    try {
      const ack = await this.#request(socket, 'languages:list', {});
      if (ack.ok) {
        this.#set({ languages: ack.languages, languagesLoaded: true, languagesError: null });
      } else {
        this.#set({ languagesError: ack.error });
      }
    } catch (e) {
      this.#set({ languagesError: toUiError(e, 'TIMEOUT') });
    }
  }

  // --- run events -------------------------------------------------------------------------

  /** True if the event is for the current run; buffers it while the run id is not known yet. */
  #route(x: EarlyEvent): boolean {
    const { run } = this.#state;
    if (run.phase === 'starting') {
      if (this.#early.length < MAX_EARLY_EVENTS) this.#early.push(x);
      return false;
    }
    return run.runId !== null && x.e.runId === run.runId;
  }

  #onStatus(e: RunStatusEvent): void {
    if (this.#state.run.phase === 'finished') return;
    this.#setRun({
      phase: e.status,
      position: e.status === 'queued' ? (e.position ?? this.#state.run.position) : null,
    });
  }

  #onOutput(e: OutputChunk): void {
    const r = this.#log.add(e);
    if (r === 'duplicate') return;
    this.#setRun({ segments: this.#log.segments });
    if (r === 'gap' && this.#lastGapWatch !== this.#log.lastSeq) {
      this.#lastGapWatch = this.#log.lastSeq;
      void this.#watch(e.runId);
    }
  }

  #onFinished(e: RunFinishedEvent): void {
    if (this.#state.run.phase === 'finished') return;
    this.#setRun({ phase: 'finished', result: e, position: null, cancelling: false });
    if (this.#log.hasGap) void this.#watch(e.runId);
  }

  /** Asks for everything after the last seq held (reconnect, or a gap in the output). */
  async #watch(runId: string): Promise<void> {
    const socket = this.#socket;
    // One watch per connection at a time; one sent on a connection since lost never answers.
    const connection = this.#connections;
    if (!socket || this.#watchInFlight === connection) return;
    this.#watchInFlight = connection;
    let ack: AckOf<'run:watch'>;
    try {
      ack = await this.#request(socket, 'run:watch', { runId, afterSeq: this.#log.lastSeq });
    } catch (e) {
      if (this.#watchInFlight === connection) this.#watchInFlight = null;
      if (this.#connections === connection && this.#state.run.runId === runId) {
        this.#setRun({ error: toUiError(e, 'TIMEOUT') });
      }
      return;
    }
    if (this.#watchInFlight === connection) this.#watchInFlight = null;
    if (this.#state.run.runId !== runId) return;
    if (!ack.ok) {
      const { phase } = this.#state.run;
      this.#setRun({
        error: ack.error,
        ...(phase === 'finished' ? {} : { phase: 'finished' as const, cancelling: false }),
      });
      return;
    }
    if (this.#log.addAll(ack.backlog) > 0) this.#setRun({ segments: this.#log.segments });
    const { run } = ack;
    if (run.result) {
      this.#onFinished({ runId, ...run.result });
    } else if (run.status !== 'finished') {
      this.#onStatus({ runId, status: run.status, at: new Date().toISOString() });
    }
  }

  // --- plumbing ---------------------------------------------------------------------------

  /** Emits with an acknowledgement; rejects if none arrives within the timeout. */
  #request<E extends keyof Events>(
    socket: AppSocket,
    event: E,
    payload: PayloadOf<E>,
  ): Promise<AckOf<E>> {
    // socket.io's typed emit cannot take a generic event name; PayloadOf/AckOf tie the types.
    const emitter = socket.timeout(this.#opts.ackTimeoutMs) as unknown as {
      emit(ev: E, p: PayloadOf<E>, cb: (err: Error | null, res: AckOf<E>) => void): void;
    };
    return new Promise((resolve, reject) => {
      emitter.emit(event, payload, (err, res) => {
        if (err) reject(new Error(`no answer to ${event} from the server (timeout)`));
        else resolve(res);
      });
    });
  }

  /** New token then connect: at once the first time, then with growing delays. */
  #scheduleTokenRefresh(): void {
    if (this.#connectedAt > 0 && Date.now() - this.#connectedAt > STABLE_CONNECTION_MS) {
      this.#tokenAttempt = 0;
    }
    this.#connectedAt = 0;
    const attempt = this.#tokenAttempt++;
    const delay =
      attempt === 0 ? 0 : TOKEN_RETRY_MS[Math.min(attempt - 1, TOKEN_RETRY_MS.length - 1)];
    this.#clearRetry();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#refreshTokenThenConnect();
    }, delay);
  }

  #clearRetry(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #setConnection(connection: ConnectionState): void {
    this.#set({ connection });
  }

  #setRun(patch: Partial<RunView>): void {
    this.#set({ run: { ...this.#state.run, ...patch } });
  }

  #set(patch: Partial<SessionState>): void {
    this.#state = { ...this.#state, ...patch };
    for (const fn of this.#listeners) fn(this.#state);
  }
}
