import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import type {
  LanguageInfo,
  ProblemCreatePayload,
  ProblemView,
  RunFeedEvent,
  RunStartPayload,
  ServerToClientEvents,
  SessionCreatePayload,
  SessionView,
} from '@coderoom/contracts';
import { EarlyEvents } from './early-events.js';
import { Emitter } from './emitter.js';
import { CoderoomError, CoderoomTimeoutError } from './errors.js';
import { Run, type RunControl, type RunHost, type RunInit } from './run.js';
import {
  checkView,
  Session,
  type SessionControl,
  type SessionFeedEvent,
  type SessionHost,
} from './session.js';
import type { AckOf, CoderoomSocket, PayloadOf, RequestEvent, ResultOf } from './types.js';

/** How the client authenticates: a fixed token, or a function that gets a fresh one. */
export type Credentials =
  | { token: string }
  /** Called before every connection attempt, so reconnects present a fresh token. */
  | { getToken: () => Promise<string> };

export type SocketIoOptions = Partial<ManagerOptions & SocketOptions>;

export interface ClientOptions {
  /** Reconnect after the connection is lost (default true; socket.io's backoff). */
  reconnection?: boolean;
  /** First reconnection delay in ms (default 1000); doubles up to `reconnectionDelayMax`. */
  reconnectionDelay?: number;
  /** Longest reconnection delay in ms (default 5000). */
  reconnectionDelayMax?: number;
  /** How long a request waits for its acknowledgement, in ms (default 10 000). */
  ackTimeoutMs?: number;
  /** How long `CoderoomClient.connect` waits for the first connection, in ms (default 20 000). */
  connectTimeoutMs?: number;
  /** socket.io transports (default: socket.io's, long-polling upgraded to WebSocket). */
  transports?: Array<'polling' | 'websocket' | 'webtransport'>;
  /** Path of the socket.io endpoint (default `/socket.io`). */
  path?: string;
  /** Extra socket.io-client options (advanced; `auth` and `autoConnect` are the SDK's). */
  socketOptions?: SocketIoOptions;
  /** Most events kept for runs not known yet while a `run:start` awaits its answer. */
  maxEarlyEvents?: number;
  /** Creates the socket (default: socket.io-client's `io`). For tests and custom transports. */
  createSocket?: (url: string, options: SocketIoOptions) => CoderoomSocket;
}

/**
 * Where the connection is:
 * - `idle`: created, `open()` not called yet;
 * - `connecting`: first connection in progress (`error`: why the last attempt failed);
 * - `connected`;
 * - `reconnecting`: lost (`reason`), retrying by itself (`error`: why the last attempt failed);
 * - `disconnected`: lost and not retrying (reconnection off, or a fixed token was refused):
 *   call `client.reconnect()`;
 * - `closed`: `client.close()` was called.
 */
export type ConnectionState =
  | { status: 'idle' }
  | { status: 'connecting'; error?: CoderoomError }
  | { status: 'connected' }
  | { status: 'reconnecting'; reason: string; error?: CoderoomError }
  | { status: 'disconnected'; reason: string; error?: CoderoomError }
  | { status: 'closed' };

export interface ClientEvents {
  /** The connection state changed. */
  state: (state: ConnectionState) => void;
  /** Connected, the first time and after every reconnect (runs then resume by themselves). */
  connect: () => void;
  /** The connection was lost (`reason` from socket.io, e.g. `transport close`). */
  disconnect: (reason: string) => void;
  /**
   * A connection attempt failed: `UNAUTHORIZED` (token refused), or `CONNECTION_FAILED`
   * (server unreachable, or `getToken` failed). The client retries unless `state` says not.
   */
  error: (err: CoderoomError) => void;
}

export interface WatchOptions {
  /** Only output after this seq is wanted (default 0: all of it). */
  afterSeq?: number;
}

const DEFAULTS = {
  reconnection: true,
  reconnectionDelay: 1000,
  reconnectionDelayMax: 5000,
  ackTimeoutMs: 10_000,
  connectTimeoutMs: 20_000,
  path: '/socket.io',
  maxEarlyEvents: 10_000,
};

/** A connection that lasted this long resets the backoff of the SDK's own retries. */
const STABLE_CONNECTION_MS = 10_000;

const SERVER_EVENTS = [
  'run:status',
  'run:output',
  'run:test',
  'run:finished',
] as const satisfies readonly (keyof ServerToClientEvents)[];

/** Classroom events, each routed to the session its `sessionId` names. */
const SESSION_EVENTS = [
  'session:presence',
  'session:closed',
  'session:broadcast',
  'session:locked',
  'session:shared',
  'doc:update',
  'doc:awareness',
  'dashboard:update',
] as const satisfies readonly (keyof ServerToClientEvents)[];

type Retry = 'auto' | 'manual' | 'none';

/**
 * A typed client of the Coderoom WebSocket API (socket.io).
 *
 * ```ts
 * const client = await CoderoomClient.connect(url, { token });
 * const run = await client.run({ language: 'python', source: 'print(42)' });
 * for await (const chunk of run) process.stdout.write(chunk.data);
 * console.log((await run.result).verdict);
 * client.close();
 * ```
 *
 * Requests become promises (`{ ok: false, error }` → a thrown {@link CoderoomError}); run
 * events become {@link Run} handles; the connection comes back by itself, and every run that
 * has not finished resumes from its last seq, without loss or duplicates.
 */
export class CoderoomClient {
  readonly #credentials: Credentials;
  readonly #opts: typeof DEFAULTS & ClientOptions;
  readonly #socket: CoderoomSocket;
  readonly #events = new Emitter<ClientEvents>();
  readonly #runs = new Map<string, { run: Run; control: RunControl }>();
  readonly #early: EarlyEvents;
  readonly #aborts = new Set<(err: CoderoomError) => void>();
  readonly #host: RunHost;
  readonly #sessions = new Map<string, { session: Session; control: SessionControl }>();
  readonly #sessionHost: SessionHost;
  #state: ConnectionState = { status: 'idle' };
  #connected = false;
  #everConnected = false;
  #closed = false;
  /** Number of connections so far (runs use it to tell answers of a lost connection). */
  #epoch = 0;
  #connectedAt = 0;
  #retryAttempts = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** The pending `CoderoomClient.connect` promise, which fails on the first failed attempt. */
  #opening: { resolve: () => void; reject: (e: CoderoomError) => void } | null = null;

  /**
   * Creates a client without connecting; call `open()` (background, keeps retrying) or use
   * `CoderoomClient.connect` (resolves when connected, rejects on the first failure).
   */
  constructor(url: string, credentials: Credentials, options: ClientOptions = {}) {
    const hasToken = typeof (credentials as { token?: unknown })?.token === 'string';
    const hasGetter = typeof (credentials as { getToken?: unknown })?.getToken === 'function';
    if (hasToken === hasGetter) {
      throw new TypeError('credentials must be { token } or { getToken }');
    }
    this.#credentials = credentials;
    this.#opts = { ...DEFAULTS, ...stripUndefined(options) };
    this.#early = new EarlyEvents(this.#opts.maxEarlyEvents);
    const create =
      this.#opts.createSocket ?? ((u: string, o: SocketIoOptions): CoderoomSocket => io(u, o));
    this.#socket = create(url, {
      path: this.#opts.path,
      reconnection: this.#opts.reconnection,
      reconnectionDelay: this.#opts.reconnectionDelay,
      reconnectionDelayMax: this.#opts.reconnectionDelayMax,
      timeout: this.#opts.connectTimeoutMs,
      ...(this.#opts.transports ? { transports: this.#opts.transports } : {}),
      forceNew: true,
      ...this.#opts.socketOptions,
      autoConnect: false,
      // A function: socket.io calls it before every connection attempt.
      auth: (cb) => this.#auth(cb),
    });
    const isConnected = (): boolean => this.#connected;
    const epoch = (): number => this.#epoch;
    this.#host = {
      get connected() {
        return isConnected();
      },
      get epoch() {
        return epoch();
      },
      request: (event, payload) => this.#request(event, payload),
      release: (run) => {
        if (this.#runs.get(run.id)?.run === run) this.#runs.delete(run.id);
      },
    };
    this.#sessionHost = {
      get connected() {
        return isConnected();
      },
      get epoch() {
        return epoch();
      },
      request: (event, payload) => this.#request(event, payload),
      run: (request) => this.run(request),
      release: (session) => {
        if (this.#sessions.get(session.id)?.session === session) this.#sessions.delete(session.id);
      },
    };
    this.#listen();
  }

  /** Connects; resolves once connected, rejects with a {@link CoderoomError} if that fails. */
  static connect(
    url: string,
    credentials: Credentials,
    options: ClientOptions = {},
  ): Promise<CoderoomClient> {
    const client = new CoderoomClient(url, credentials, options);
    return client.#open(true).then(() => client);
  }

  /** Starts connecting in the background (and keeps retrying); watch `state` / `on('state')`. */
  open(): this {
    void this.#open(false);
    return this;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /**
   * The underlying socket.io socket, for advanced use and tests (e.g.
   * `client.socket.io.engine.close()` to simulate a network failure). Emitting run events on it
   * directly bypasses the SDK's bookkeeping.
   */
  get socket(): CoderoomSocket {
    return this.#socket;
  }

  /** Runs this client follows that have not finished yet. */
  get runs(): Run[] {
    return [...this.#runs.values()].map((r) => r.run);
  }

  /** Classroom sessions this client is in (kept, and re-entered after every reconnect). */
  get sessions(): Session[] {
    return [...this.#sessions.values()].map((s) => s.session);
  }

  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  once<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): () => void {
    return this.#events.once(event, listener);
  }

  /** The languages the server runs. */
  async languages(): Promise<LanguageInfo[]> {
    return (await this.#request('languages:list', {})).languages;
  }

  /**
   * Starts a run; resolves with its handle once the server has accepted it (`run:start`).
   * Rejects with a {@link CoderoomError}: `INVALID` (with `details`), `UNSUPPORTED_LANGUAGE`,
   * `TOO_LARGE`, `RATE_LIMITED` / `BUSY` (with `retryAfterMs`), `TIMEOUT`, `DISCONNECTED`…
   * Made while disconnected, the request is sent when the connection is back.
   */
  run(request: RunStartPayload): Promise<Run> {
    return new Promise<Run>((resolve, reject) => {
      // Events of the new run may come before the answer: keep them until its id is known.
      const release = this.#early.hold();
      this.#send('run:start', request, (err, res) => {
        if (err || typeof res?.runId !== 'string') {
          release();
          reject(err ?? malformed('run:start', res));
          return;
        }
        const position = typeof res.position === 'number' ? res.position : null;
        const { run, control } = this.#adopt({
          runId: res.runId,
          status: 'queued',
          position,
          afterSeq: 0,
        });
        // The caller can listen only once it has the handle: what came before the answer is
        // emitted on the next macrotask, in order with whatever arrives after it.
        control.deferEvents();
        this.#replayEarly(res.runId, control);
        release();
        resolve(run);
      });
    });
  }

  /**
   * Follows a run started elsewhere (another client, tab or node): `run:watch`. The handle is
   * the same as `run()`'s; with `afterSeq`, only later output is fetched and kept. If this
   * client already follows the run, its existing handle is returned. Rejects with `NOT_FOUND`
   * or `FORBIDDEN` (someone else's run).
   */
  watch(runId: string, options: WatchOptions = {}): Promise<Run> {
    const known = this.#runs.get(runId);
    if (known) return Promise.resolve(known.run);
    const afterSeq = options.afterSeq ?? 0;
    return new Promise<Run>((resolve, reject) => {
      const release = this.#early.hold();
      this.#send('run:watch', { runId, afterSeq }, (err, res) => {
        if (err || !res?.run || typeof res.run !== 'object') {
          release();
          reject(err ?? malformed('run:watch', res));
          return;
        }
        const entry =
          this.#runs.get(runId) ??
          this.#adopt({ runId, status: res.run.status, position: null, afterSeq });
        entry.control.applyWatch(res, afterSeq);
        this.#replayEarly(runId, entry.control);
        release();
        resolve(entry.run);
      });
    });
  }

  /**
   * Creates a classroom session (`session:create`; accounts with the `instructor` or `admin`
   * role); this user is its instructor. Its `joinCode` is what students pass to `joinSession`.
   */
  async createSession(request: SessionCreatePayload): Promise<Session> {
    const { session } = await this.#request('session:create', request);
    return this.#adoptSession(session, 'session:create');
  }

  /**
   * Joins a session with its join code (`session:join`). Rejects with `NOT_FOUND` (no open
   * session has this code) or `CONFLICT` (closed, or full).
   */
  async joinSession(joinCode: string): Promise<Session> {
    const { session } = await this.#request('session:join', { joinCode });
    return this.#adoptSession(session, 'session:join');
  }

  /**
   * A session this user is a member of, by id (`session:get`, which also puts this connection
   * in it). If this client already holds it, the same handle, with a fresh view.
   */
  async session(sessionId: string): Promise<Session> {
    const { session } = await this.#request('session:get', { sessionId });
    return this.#adoptSession(session, 'session:get');
  }

  /** Creates a problem (`problem:create`; `instructor` or `admin` role). */
  async createProblem(request: ProblemCreatePayload): Promise<ProblemView> {
    return checkProblem((await this.#request('problem:create', request)).problem, 'problem:create');
  }

  /** A problem by id (`problem:get`): its author, and members of a session holding it. */
  async problem(problemId: string): Promise<ProblemView> {
    return checkProblem((await this.#request('problem:get', { problemId })).problem, 'problem:get');
  }

  /** The problems this user created, newest first (`problem:list`; `instructor` or `admin` role). */
  async problems(): Promise<ProblemView[]> {
    const { problems } = await this.#request('problem:list', {});
    if (!Array.isArray(problems)) throw malformed('problem:list', problems);
    return problems.map((p) => checkProblem(p, 'problem:list'));
  }

  /**
   * Reconnects now: after `disconnected` (e.g. a refused fixed token), or to skip the backoff
   * delay while `reconnecting`. Does nothing if connected.
   */
  reconnect(): void {
    if (this.#closed) throw closedError();
    this.#clearRetry();
    this.#retryAttempts = 0;
    if (this.#socket.connected) return;
    this.#socket.disconnect(); // ends socket.io's own backoff, if any
    this.#setState(
      this.#everConnected
        ? { status: 'reconnecting', reason: 'reconnect requested' }
        : { status: 'connecting' },
    );
    this.#socket.connect();
  }

  /**
   * Disconnects for good. Pending requests reject with `CLOSED`; unfinished runs end: their
   * `result` rejects and their iterators throw with `CLOSED` (the runs go on on the server).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearRetry();
    this.#socket.disconnect();
    this.#connected = false;
    const err = closedError();
    for (const abort of [...this.#aborts]) abort(err);
    for (const { control } of [...this.#runs.values()]) control.fail(err);
    this.#runs.clear();
    for (const { control } of [...this.#sessions.values()]) control.end(err);
    this.#sessions.clear();
    this.#early.clear();
    this.#opening?.reject(err);
    this.#opening = null;
    this.#setState({ status: 'closed' });
  }

  // --- connection -------------------------------------------------------------------------

  #open(strict: boolean): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    let done: Promise<void> = Promise.resolve();
    if (strict && !this.#connected) {
      done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#opening = null;
          reject(new CoderoomTimeoutError('connect', this.#opts.connectTimeoutMs));
          this.close();
        }, this.#opts.connectTimeoutMs);
        this.#opening = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
      });
    }
    if (this.#state.status === 'idle') {
      this.#setState({ status: 'connecting' });
      this.#socket.connect();
    }
    return done;
  }

  #auth(cb: (data: object) => void): void {
    const c = this.#credentials;
    if ('token' in c) {
      cb({ token: c.token });
      return;
    }
    void (async () => {
      let token: unknown;
      try {
        token = await c.getToken();
        if (typeof token !== 'string' || token === '') throw new Error('getToken gave no token');
      } catch (e) {
        if (this.#closed) return;
        const msg = e instanceof Error ? e.message : String(e);
        // Stop this attempt (socket.io would wait for the CONNECT packet) and retry ourselves.
        this.#socket.disconnect();
        this.#failed(
          new CoderoomError('CONNECTION_FAILED', `could not get a token: ${msg}`, { cause: e }),
          'manual',
        );
        return;
      }
      if (!this.#closed) cb({ token });
    })();
  }

  #listen(): void {
    const s = this.#socket;
    s.on('connect', () => {
      if (this.#closed) return;
      this.#epoch++;
      this.#connected = true;
      this.#everConnected = true;
      this.#connectedAt = Date.now();
      this.#setState({ status: 'connected' });
      this.#opening?.resolve();
      this.#opening = null;
      this.#events.emit('connect');
      // The new socket is subscribed to nothing: resume every unfinished run from its lastSeq,
      // and enter every session again (its document and dashboard then resume).
      if (this.#epoch > 1) {
        for (const { control } of [...this.#runs.values()]) control.resync();
        for (const { control } of [...this.#sessions.values()]) control.reenter();
      }
    });

    s.on('disconnect', (reason) => {
      if (this.#closed || !this.#connected) return;
      this.#connected = false;
      if (Date.now() - this.#connectedAt >= STABLE_CONNECTION_MS) this.#retryAttempts = 0;
      this.#events.emit('disconnect', reason);
      for (const { control } of [...this.#sessions.values()]) control.offline();
      if (reason === 'io server disconnect') {
        // The server closed us on purpose (e.g. the token expired); socket.io leaves that to
        // us: reconnect (with a fresh token from getToken), backing off if it keeps happening.
        this.#scheduleRetry(reason);
      } else if (s.active && this.#opts.reconnection) {
        this.#setState({ status: 'reconnecting', reason });
      } else {
        this.#setState({ status: 'disconnected', reason });
      }
    });

    s.on('connect_error', (err: Error & { data?: unknown }) => {
      if (this.#closed) return;
      if (err?.message === 'unauthorized') {
        const e = new CoderoomError('UNAUTHORIZED', 'the server refused the token', {
          details: err.data,
          cause: err,
        });
        // A fixed token will not get better; getToken can get a new one.
        this.#failed(e, 'getToken' in this.#credentials ? 'manual' : 'none');
        return;
      }
      const e = new CoderoomError(
        'CONNECTION_FAILED',
        `cannot reach the server (${err?.message})`,
        {
          details: err?.data,
          cause: err,
        },
      );
      // A node that is shutting down refuses with BUSY; socket.io treats any refusal by the
      // server as final, but the balancer's next answer comes from another node: retry.
      // The same on a first connection: a node that is starting refuses too.
      const data = err?.data as { code?: unknown; retryAfterMs?: unknown } | undefined;
      if (data?.code === 'BUSY' && !s.active && this.#opts.reconnection) {
        this.#events.emit('error', e);
        const wait = typeof data.retryAfterMs === 'number' ? data.retryAfterMs : 0;
        this.#scheduleRetry(this.#everConnected ? 'connection failed' : '', e, wait);
        return;
      }
      this.#failed(e, s.active && this.#opts.reconnection ? 'auto' : 'none');
    });

    for (const kind of SERVER_EVENTS) {
      (s as unknown as { on(ev: string, fn: (e: unknown) => void): void }).on(kind, (event) =>
        this.#dispatch({ kind, event } as RunFeedEvent),
      );
    }
    for (const kind of SESSION_EVENTS) {
      (s as unknown as { on(ev: string, fn: (e: unknown) => void): void }).on(kind, (event) =>
        this.#dispatchSession({ kind, event } as SessionFeedEvent),
      );
    }
  }

  /** A connection attempt failed; `retry` says who tries again. */
  #failed(err: CoderoomError, retry: Retry): void {
    this.#events.emit('error', err);
    if (this.#opening && !this.#everConnected) {
      const opening = this.#opening;
      this.#opening = null;
      opening.reject(err);
      this.close();
      return;
    }
    if (retry === 'manual') {
      this.#scheduleRetry(this.#everConnected ? 'connection failed' : '', err);
    } else if (retry === 'auto') {
      this.#setState(
        this.#everConnected
          ? { status: 'reconnecting', reason: 'connection failed', error: err }
          : { status: 'connecting', error: err },
      );
    } else {
      this.#setState({ status: 'disconnected', reason: 'connection failed', error: err });
    }
  }

  /** Connects again after a delay (at once the first time); for what socket.io does not retry. */
  #scheduleRetry(reason: string, error?: CoderoomError, atLeastMs = 0): void {
    if (!this.#opts.reconnection) {
      this.#setState({ status: 'disconnected', reason, ...(error ? { error } : {}) });
      return;
    }
    this.#setState(
      this.#everConnected
        ? { status: 'reconnecting', reason, ...(error ? { error } : {}) }
        : { status: 'connecting', ...(error ? { error } : {}) },
    );
    const attempt = this.#retryAttempts++;
    const { reconnectionDelay: base, reconnectionDelayMax: max } = this.#opts;
    const backoff = attempt === 0 ? 0 : Math.min(max, base * 2 ** (attempt - 1)) * jitter();
    // Never sooner than the server asked (a starting or draining node says retryAfterMs).
    const delay = Math.max(backoff, Math.min(atLeastMs, max));
    this.#clearRetry();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (!this.#closed && !this.#socket.connected) this.#socket.connect();
    }, delay);
  }

  #clearRetry(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #setState(state: ConnectionState): void {
    this.#state = state;
    this.#events.emit('state', state);
  }

  // --- runs -------------------------------------------------------------------------------

  #adopt(init: RunInit): { run: Run; control: RunControl } {
    let control: RunControl | null = null;
    const run = new Run(this.#host, init, (c) => (control = c));
    if (!control) throw new Error('unreachable: the run did not bind');
    const entry = { run, control };
    this.#runs.set(init.runId, entry);
    return entry;
  }

  #replayEarly(runId: string, control: RunControl): void {
    const { events, overflowed } = this.#early.take(runId);
    for (const e of events) control.receive(e);
    if (overflowed) control.resync();
  }

  #dispatch(e: RunFeedEvent): void {
    const runId = (e.event as { runId?: unknown } | null)?.runId;
    if (typeof runId !== 'string') return;
    const entry = this.#runs.get(runId);
    if (entry) entry.control.receive(e);
    else this.#early.offer(e);
  }

  // --- sessions ---------------------------------------------------------------------------

  #adoptSession(view: SessionView, event: string): Session {
    checkView(view, event);
    const known = this.#sessions.get(view.sessionId);
    if (known) {
      known.control.applyView(view);
      return known.session;
    }
    let control: SessionControl | null = null;
    const session = new Session(this.#sessionHost, view, (c) => (control = c));
    if (!control) throw new Error('unreachable: the session did not bind');
    this.#sessions.set(session.id, { session, control });
    return session;
  }

  #dispatchSession(e: SessionFeedEvent): void {
    const sessionId = (e.event as { sessionId?: unknown } | null)?.sessionId;
    if (typeof sessionId !== 'string') return;
    this.#sessions.get(sessionId)?.control.receive(e);
  }

  // --- requests ---------------------------------------------------------------------------

  #request<E extends RequestEvent>(event: E, payload: PayloadOf<E>): Promise<ResultOf<E>> {
    return new Promise((resolve, reject) => {
      this.#send(event, payload, (err, res) => (err ? reject(err) : resolve(res as ResultOf<E>)));
    });
  }

  /** Emits a request; `done` is called exactly once, synchronously with the answer. */
  #send<E extends RequestEvent>(
    event: E,
    payload: PayloadOf<E>,
    done: (err: CoderoomError | null, res?: ResultOf<E>) => void,
  ): void {
    if (this.#closed) {
      done(closedError());
      return;
    }
    let settled = false;
    const settle = (err: CoderoomError | null, res?: ResultOf<E>): void => {
      if (settled) return;
      settled = true;
      this.#aborts.delete(abort);
      done(err, res);
    };
    const abort = (err: CoderoomError): void => settle(err);
    this.#aborts.add(abort);
    const ms = this.#opts.ackTimeoutMs;
    // socket.io's typed emit cannot take a generic event name; PayloadOf/AckOf tie the types.
    const emitter = this.#socket.timeout(ms) as unknown as {
      emit(ev: E, p: PayloadOf<E>, cb: (err: Error | null, ack: AckOf<E>) => void): void;
    };
    emitter.emit(event, payload, (err, ack) => {
      if (err) {
        if (this.#closed) settle(closedError());
        else if (err.message === 'operation has timed out') {
          settle(new CoderoomTimeoutError(event, ms));
        } else {
          settle(
            new CoderoomError(
              'DISCONNECTED',
              `the connection was lost before "${event}" was answered`,
              {
                cause: err,
              },
            ),
          );
        }
        return;
      }
      if (ack && typeof ack === 'object' && ack.ok === true) {
        const result: Record<string, unknown> = { ...ack };
        delete result.ok;
        settle(null, result as ResultOf<E>);
      } else if (ack && typeof ack === 'object' && ack.ok === false) {
        settle(CoderoomError.fromApi(ack.error));
      } else {
        settle(malformed(event, ack));
      }
    });
  }
}

function checkProblem(problem: ProblemView, event: string): ProblemView {
  if (!problem || typeof problem.problemId !== 'string') throw malformed(event, problem);
  return problem;
}

function closedError(): CoderoomError {
  return new CoderoomError('CLOSED', 'the client is closed');
}

function malformed(event: string, answer: unknown): CoderoomError {
  return new CoderoomError('INTERNAL', `malformed answer to "${event}"`, { details: answer });
}

/** 0.75..1.25: spreads the retries of many clients. */
function jitter(): number {
  return 0.75 + Math.random() * 0.5;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
