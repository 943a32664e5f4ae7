import type {
  DashboardCodeResult,
  DashboardUpdate,
  DocAwarenessEvent,
  DocUpdateEvent,
  Member,
  ProblemView,
  RunStartPayload,
  SessionBroadcastEvent,
  SessionBroadcastPayload,
  SessionClosedEvent,
  SessionInstructorsPayload,
  SessionLockedEvent,
  SessionPresenceEvent,
  SessionSharedEvent,
  SessionView,
} from '@coderoom/contracts';
import { Dashboard, type DashboardControl, type DashboardOptions } from './dashboard.js';
import { Emitter } from './emitter.js';
import { CoderoomError, toCoderoomError } from './errors.js';
import { isRetryable, retryDelayMs } from './retry.js';
import type { Run } from './run.js';
import { SessionDocument, type SessionDocumentControl } from './session-document.js';
import type { ClientLink } from './types.js';

/** Events of a {@link Session}; subscribe with `session.on(event, listener)`. */
export interface SessionEvents {
  /** Who is in the session and what they run (`session:presence`); `session.members` is current. */
  presence: (members: Member[]) => void;
  /** The session was closed: no more runs, joins or edits (its history stays readable). */
  closed: () => void;
  /** An instructor pushed code to every member (the sender included). */
  broadcast: (e: SessionBroadcastEvent) => void;
  /** A member shared a run: `client.watch(e.runId)` now works for every member. */
  shared: (e: SessionSharedEvent) => void;
  /**
   * `readOnly` changed, as seen by this client: an instructor's lock or unlock pushed by the
   * server (`session:locked`; `by` says who), this client's own `lock()`, or a newer view
   * (`refresh()`, the re-entry after a reconnect; `by` is then null).
   */
  locked: (readOnly: boolean, by: LockedBy | null) => void;
  /** `session.view` was replaced (any of the above, a refresh, a re-entry). */
  view: (view: SessionView) => void;
  /**
   * The handle ended: `leave()`, `client.close()`, or the session was lost (re-entering it
   * after a reconnect was refused, e.g. `FORBIDDEN`: `session.error` says why).
   */
  ended: (reason: CoderoomError) => void;
  /** Re-entering after a reconnect was refused for good; `ended` follows. */
  error: (err: CoderoomError) => void;
}

/** The instructor who locked or unlocked the document (`session:locked`). */
export type LockedBy = SessionLockedEvent['by'];

/** Classroom events of the server, routed to a session by `sessionId`. */
export type SessionFeedEvent =
  | { kind: 'session:presence'; event: SessionPresenceEvent }
  | { kind: 'session:closed'; event: SessionClosedEvent }
  | { kind: 'session:broadcast'; event: SessionBroadcastEvent }
  | { kind: 'session:locked'; event: SessionLockedEvent }
  | { kind: 'session:shared'; event: SessionSharedEvent }
  | { kind: 'doc:update'; event: DocUpdateEvent }
  | { kind: 'doc:awareness'; event: DocAwarenessEvent }
  | { kind: 'dashboard:update'; event: DashboardUpdate };

/** What a session needs from its client. Not part of the public API. */
export interface SessionHost extends ClientLink {
  run(request: RunStartPayload): Promise<Run>;
  /** The session handle ended: forget it. */
  release(session: Session): void;
}

/** How the client drives a session. Not part of the public API. */
export interface SessionControl {
  receive(e: SessionFeedEvent): void;
  /** A newer view from `session:create`/`join`/`get` on the current connection. */
  applyView(view: SessionView): void;
  /** The socket reconnected: enter the session again (`session:get`), then resync its parts. */
  reenter(): void;
  offline(): void;
  end(reason: CoderoomError): void;
}

/** What `broadcast` sends: the code as one `source`, or as `files`. */
export type BroadcastRequest = Omit<SessionBroadcastPayload, 'sessionId'>;

/**
 * A classroom session this client is in (`client.createSession`, `joinSession`, `session`).
 *
 * `view` is the session as this user may see it, kept current: members from
 * `session:presence`, `status` from `session:closed`, `readOnly` from `session:locked` (and this
 * client's `lock()`, and newer views). After a reconnect the handle enters the session again by itself
 * (`session:get`), then its document syncs and its dashboard resumes.
 */
export class Session {
  readonly id: string;
  readonly #host: SessionHost;
  readonly #events = new Emitter<SessionEvents>();
  readonly #document: SessionDocument;
  #documentControl: SessionDocumentControl | null = null;
  #view: SessionView;
  #dashboard: { dashboard: Dashboard; control: DashboardControl } | null = null;
  /** The connection (epoch) on which the server last put this socket in the session. */
  #enteredEpoch: number;
  #entering: { epoch: number } | null = null;
  #retries = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #ended: CoderoomError | null = null;

  /** @internal Sessions are made by the client. */
  constructor(host: SessionHost, view: SessionView, bind: (control: SessionControl) => void) {
    this.#host = host;
    this.id = view.sessionId;
    this.#view = view;
    this.#enteredEpoch = host.epoch;
    this.#document = new SessionDocument(
      host,
      this.id,
      () => this.#host.connected && this.#enteredEpoch === this.#host.epoch,
      (c) => (this.#documentControl = c),
    );
    bind({
      receive: (e) => this.#receive(e),
      applyView: (v) => {
        this.#enteredEpoch = this.#host.epoch;
        this.#applyView(v);
      },
      reenter: () => this.#reenter(),
      offline: () => this.#documentControl?.offline(),
      end: (reason) => this.#end(reason),
    });
  }

  /** The session as this user may see it (a new object after every change). */
  get view(): SessionView {
    return this.#view;
  }

  get title(): string {
    return this.#view.title;
  }

  /** `open`, or `closed` (no runs, joins or edits). */
  get status(): SessionView['status'] {
    return this.#view.status;
  }

  /** This user's role in the session: `instructor` or `student`. */
  get role(): SessionView['role'] {
    return this.#view.role;
  }

  /** Students may not edit the shared document. */
  get readOnly(): boolean {
    return this.#view.readOnly;
  }

  /** May this user edit the shared document now (open, and instructor or not read-only)? */
  get canEdit(): boolean {
    return this.status === 'open' && (this.role === 'instructor' || !this.readOnly);
  }

  /** The join code (instructors only), else undefined. */
  get joinCode(): string | undefined {
    return this.#view.joinCode;
  }

  /** Members, online or not, with what they run; current as of the last `presence`. */
  get members(): Member[] {
    return this.#view.members;
  }

  get problems(): ProblemView[] {
    return this.#view.problems;
  }

  /** The shared document's wire channel (bind a `Y.Doc` with `CoderoomYjsProvider`). */
  get document(): SessionDocument {
    return this.#document;
  }

  /** The dashboard this client watches, if any (`watchDashboard()`). */
  get dashboard(): Dashboard | null {
    return this.#dashboard?.dashboard ?? null;
  }

  /** True once the handle has ended (`ended` event): left, lost, or the client closed. */
  get done(): boolean {
    return this.#ended !== null;
  }

  /** Why the session was lost (not for `leave()` or `close()` of the client), else null. */
  get error(): CoderoomError | null {
    return this.#ended?.code === 'CLOSED' ? null : this.#ended;
  }

  on<E extends keyof SessionEvents>(event: E, listener: SessionEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  once<E extends keyof SessionEvents>(event: E, listener: SessionEvents[E]): () => void {
    return this.#events.once(event, listener);
  }

  /** Reads the session again (`session:get`), which also puts this connection in it. */
  async refresh(): Promise<SessionView> {
    const { session } = await this.#host.request('session:get', { sessionId: this.id });
    checkView(session, 'session:get');
    this.#enteredEpoch = this.#host.epoch;
    this.#applyView(session);
    return this.#view;
  }

  /**
   * Leaves the session (`session:leave`): a student stops being a member; an instructor only
   * if another one remains (`CONFLICT`). The handle then ends.
   */
  async leave(): Promise<void> {
    await this.#host.request('session:leave', { sessionId: this.id });
    this.#end(new CoderoomError('CLOSED', 'left the session'));
  }

  /** Closes the session for good (instructors): members get `closed`. */
  async close(): Promise<void> {
    await this.#host.request('session:close', { sessionId: this.id });
    this.#markClosed();
  }

  /** Adds and removes co-instructors by user id (instructors). */
  async setInstructors(change: Omit<SessionInstructorsPayload, 'sessionId'>): Promise<void> {
    await this.#host.request('session:instructors', { sessionId: this.id, ...change });
  }

  /** Makes the shared document read-only for students, or editable again (instructors). */
  async lock(readOnly: boolean): Promise<void> {
    await this.#host.request('session:lock', { sessionId: this.id, readOnly });
    this.#applyView({ ...this.#view, readOnly });
  }

  /** Pushes code to every member, as `broadcast` events (instructors). */
  async broadcast(code: BroadcastRequest): Promise<void> {
    await this.#host.request('session:broadcast', { ...code, sessionId: this.id });
  }

  /** Shares one of your runs: every member may then watch it (`shared` event). */
  async share(run: Run | string): Promise<void> {
    const runId = typeof run === 'string' ? run : run.id;
    await this.#host.request('session:share', { sessionId: this.id, runId });
  }

  /** `client.run(...)` in this session (`sessionId` filled in): a run, or a submission. */
  run(request: Omit<RunStartPayload, 'sessionId'>): Promise<Run> {
    return this.#host.run({ ...request, sessionId: this.id });
  }

  /**
   * The program of a run of this session as it was started (`dashboard:code`; instructors, e.g.
   * to show a student's code). Rejects with `NOT_FOUND` just after the run started (its document
   * is written after `run:start`'s answer): ask again a moment later.
   */
  async code(runId: string): Promise<DashboardCodeResult> {
    return this.#host.request('dashboard:code', { sessionId: this.id, runId });
  }

  /**
   * Watches the session's dashboard (instructors); resolves once its snapshot is there. The
   * same handle while it is watched. Rejects with `FORBIDDEN` for a student.
   */
  async watchDashboard(options: DashboardOptions = {}): Promise<Dashboard> {
    if (this.#ended) throw this.#ended;
    let entry = this.#dashboard;
    if (!entry) {
      let control: DashboardControl | null = null;
      const dashboard = new Dashboard(
        this.#host,
        this.id,
        options,
        (d) => {
          if (this.#dashboard?.dashboard === d) this.#dashboard = null;
        },
        (c) => (control = c),
      );
      if (!control) throw new Error('unreachable: the dashboard did not bind');
      entry = { dashboard, control };
      if (!dashboard.done) this.#dashboard = entry;
    }
    await entry.control.started;
    return entry.dashboard;
  }

  // --- driven by the client -------------------------------------------------------------

  #receive(e: SessionFeedEvent): void {
    if (this.#ended) return;
    switch (e.kind) {
      case 'session:presence':
        if (Array.isArray(e.event.members))
          this.#applyView({ ...this.#view, members: e.event.members });
        return;
      case 'session:closed':
        this.#markClosed();
        return;
      case 'session:broadcast':
        this.#events.emit('broadcast', e.event);
        return;
      case 'session:locked':
        if (typeof e.event.readOnly === 'boolean') {
          this.#applyView({ ...this.#view, readOnly: e.event.readOnly }, e.event.by ?? null);
        }
        return;
      case 'session:shared':
        this.#events.emit('shared', e.event);
        return;
      case 'doc:update':
        this.#documentControl?.receive('update', e.event.update);
        return;
      case 'doc:awareness':
        this.#documentControl?.receive('awareness', e.event.update);
        return;
      case 'dashboard:update':
        this.#dashboard?.control.receive(e.event);
        return;
      default: {
        const never: never = e;
        void never;
      }
    }
  }

  #reenter(): void {
    if (this.#ended || !this.#host.connected) return;
    const epoch = this.#host.epoch;
    if (this.#entering?.epoch === epoch) return;
    this.#clearRetry();
    const attempt = { epoch };
    this.#entering = attempt;
    this.#host.request('session:get', { sessionId: this.id }).then(
      ({ session }) => {
        if (this.#entering !== attempt || this.#ended) return;
        this.#entering = null;
        this.#retries = 0;
        try {
          checkView(session, 'session:get');
        } catch (err) {
          this.#reenterFailed(toCoderoomError(err));
          return;
        }
        this.#enteredEpoch = this.#host.epoch;
        this.#applyView(session);
        // In the session again: the document syncs, the dashboard watches from its seq.
        this.#documentControl?.online();
        this.#dashboard?.control.resync();
      },
      (err: unknown) => {
        if (this.#entering !== attempt) return;
        this.#entering = null;
        this.#reenterFailed(toCoderoomError(err));
      },
    );
  }

  #reenterFailed(err: CoderoomError): void {
    if (this.#ended) return;
    // Lost connection: the next reconnect tries again. Closed client: it ends the session.
    if (err.code === 'DISCONNECTED' || err.code === 'CLOSED' || !this.#host.connected) return;
    if (isRetryable(err)) {
      const delay = retryDelayMs(err, this.#retries++);
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        this.#reenter();
      }, delay);
      return;
    }
    this.#events.emit('error', err);
    this.#end(err);
  }

  #applyView(view: SessionView, lockedBy: LockedBy | null = null): void {
    const before = this.#view;
    this.#view = view;
    if (before.readOnly !== view.readOnly) this.#events.emit('locked', view.readOnly, lockedBy);
    if (before.status !== 'closed' && view.status === 'closed') this.#events.emit('closed');
    if (before.members !== view.members) this.#events.emit('presence', view.members);
    this.#events.emit('view', view);
  }

  #markClosed(): void {
    if (this.#view.status === 'closed') return;
    this.#applyView({ ...this.#view, status: 'closed' });
  }

  #end(reason: CoderoomError): void {
    if (this.#ended) return;
    this.#ended = reason;
    this.#clearRetry();
    this.#entering = null;
    this.#dashboard?.control.fail(new CoderoomError('CLOSED', 'the session handle ended'));
    this.#dashboard = null;
    this.#documentControl?.end();
    this.#host.release(this);
    this.#events.emit('ended', reason);
  }

  #clearRetry(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }
}

/** Throws INTERNAL if an answer's `session` is not a session view. */
export function checkView(view: unknown, event: string): asserts view is SessionView {
  const v = view as Partial<SessionView> | null;
  if (!v || typeof v.sessionId !== 'string' || !Array.isArray(v.members)) {
    throw new CoderoomError('INTERNAL', `malformed answer to "${event}": no session`, {
      details: view,
    });
  }
}
