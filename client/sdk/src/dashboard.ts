import type {
  DashboardSnapshot,
  DashboardUpdate,
  DashboardWatchResult,
  RunTestEvent,
} from '@coderoom/contracts';
import { applyDashboardUpdate } from './dashboard-state.js';
import { Emitter } from './emitter.js';
import { CoderoomError, toCoderoomError } from './errors.js';
import { isRetryable, retryDelayMs } from './retry.js';
import type { ClientLink } from './types.js';

/** Events of a {@link Dashboard}; subscribe with `dashboard.on(event, listener)`. */
export interface DashboardEvents {
  /** One update, applied: `dashboard.snapshot` and `dashboard.seq` already include it. */
  update: (update: DashboardUpdate) => void;
  /**
   * The snapshot was replaced as a whole: after a reconnect, the server could no longer replay
   * every update missed (its replay log did not reach back far enough), so the dashboard took
   * the snapshot of the watch answer instead. The state is exact; the `update` events of the
   * seqs it covered were not emitted.
   */
  snapshot: (snapshot: DashboardSnapshot) => void;
  /** The dashboard stopped for good (`dashboard.error`): e.g. `FORBIDDEN`, no longer instructor. */
  error: (err: CoderoomError) => void;
}

export interface DashboardOptions {
  /**
   * After a re-watch, how long to wait for the updates it asked for (they follow the answer)
   * before taking the answer's snapshot instead, in ms (default 1000).
   */
  replayWaitMs?: number;
}

/** How a session drives its dashboard. Not part of the public API. */
export interface DashboardControl {
  receive(update: DashboardUpdate): void;
  /** Watches again from `seq` (after a reconnect and the session's re-entry). */
  resync(): void;
  fail(err: CoderoomError): void;
  /** Resolves once the first watch is answered and applied; rejects if it is refused. */
  readonly started: Promise<void>;
}

/** Updates kept while waiting for a missing seq; beyond, later ones are left to the re-watch. */
const MAX_HELD = 10_000;
const noop = (): void => undefined;

/**
 * The live view of a session for its instructors (`session.watchDashboard()`): `snapshot`
 * (members and what they run, the latest runs newest first, progress) kept current by applying
 * every `dashboard:update` exactly once, in seq order.
 *
 * An update that arrives twice is dropped; one that arrives after a gap is held, and the
 * dashboard watches again with `afterSeq` = the last seq applied: the server replays what is
 * missing, which is applied in order. After a reconnect it does the same by itself. If the
 * server cannot replay some updates any more, the dashboard takes the snapshot it answered
 * with (a `snapshot` event), so the state is never wrong and never goes back.
 */
export class Dashboard {
  readonly sessionId: string;
  readonly #link: ClientLink;
  readonly #events = new Emitter<DashboardEvents>();
  readonly #replayWaitMs: number;
  readonly #onEnd: (d: Dashboard) => void;
  #snapshot: DashboardSnapshot;
  /** The last seq applied; -1 until the first watch is answered. */
  #seq = -1;
  readonly #held = new Map<number, DashboardUpdate>();
  readonly #tests = new Map<string, RunTestEvent[]>();
  /** A re-watch answer whose replayed updates are awaited: its snapshot is the fallback. */
  #catchUp: {
    snapshot: DashboardSnapshot;
    seq: number;
    epoch: number;
    timer: ReturnType<typeof setTimeout>;
  } | null = null;
  #inflight: { epoch: number } | null = null;
  #retries = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #done = false;
  #error: CoderoomError | null = null;
  #resolveStarted: () => void = noop;
  #rejectStarted: (e: CoderoomError) => void = noop;

  /** @internal Made by `Session.watchDashboard`. */
  constructor(
    link: ClientLink,
    sessionId: string,
    options: DashboardOptions,
    onEnd: (d: Dashboard) => void,
    bind: (control: DashboardControl) => void,
  ) {
    this.#link = link;
    this.sessionId = sessionId;
    this.#replayWaitMs = options.replayWaitMs ?? 1000;
    this.#onEnd = onEnd;
    this.#snapshot = { sessionId, members: [], runs: [], progress: [] };
    const started = new Promise<void>((resolve, reject) => {
      this.#resolveStarted = resolve;
      this.#rejectStarted = reject;
    });
    started.catch(noop);
    bind({
      receive: (u) => this.#receive(u),
      resync: () => this.#resync(),
      fail: (err) => this.#fail(err),
      started,
    });
    this.#watch();
  }

  /** The dashboard as of `seq`: a new object after every change (lists that did not change are shared). */
  get snapshot(): DashboardSnapshot {
    return this.#snapshot;
  }

  /** The last update applied (the snapshot includes every update up to it). */
  get seq(): number {
    return Math.max(this.#seq, 0);
  }

  /** True once unwatched or stopped by an error (`error`). */
  get done(): boolean {
    return this.#done;
  }

  get error(): CoderoomError | null {
    return this.#error;
  }

  /** Test cases of a run of the snapshot received since watching (`test` updates), by index. */
  tests(runId: string): RunTestEvent[] {
    return [...(this.#tests.get(runId) ?? [])];
  }

  on<E extends keyof DashboardEvents>(event: E, listener: DashboardEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  once<E extends keyof DashboardEvents>(event: E, listener: DashboardEvents[E]): () => void {
    return this.#events.once(event, listener);
  }

  /** Stops watching (`dashboard:unwatch`); no more events. Never throws. */
  async unwatch(): Promise<void> {
    if (this.#done) return;
    this.#fail(new CoderoomError('CLOSED', 'stopped watching the dashboard'));
    try {
      await this.#link.request('dashboard:unwatch', { sessionId: this.sessionId });
    } catch {
      // Best effort: the server forgets this socket's watches when it disconnects.
    }
  }

  // --- driven by the session ------------------------------------------------------------

  #receive(u: DashboardUpdate): void {
    if (this.#done || !u || !Number.isSafeInteger(u.seq) || u.seq < 1) return;
    if (u.seq <= this.#seq || this.#held.has(u.seq) || this.#held.size >= MAX_HELD) return;
    this.#held.set(u.seq, u);
    if (this.#seq >= 0) this.#drain();
  }

  #resync(): void {
    // A replay awaited on a lost connection will not come; the new watch asks again.
    if (this.#catchUp && this.#catchUp.epoch !== this.#link.epoch) this.#clearCatchUp();
    this.#watch();
  }

  #watch(): void {
    if (this.#done || !this.#link.connected) return; // the session's re-entry will watch
    const epoch = this.#link.epoch;
    if (this.#inflight?.epoch === epoch) return; // its answer covers what arrived meanwhile
    this.#clearRetry();
    const attempt = { epoch };
    this.#inflight = attempt;
    const first = this.#seq < 0;
    const payload = first
      ? { sessionId: this.sessionId }
      : { sessionId: this.sessionId, afterSeq: this.#seq };
    this.#link.request('dashboard:watch', payload).then(
      (result) => {
        if (this.#inflight !== attempt) return;
        this.#inflight = null;
        this.#retries = 0;
        this.#applyWatch(result);
      },
      (err: unknown) => {
        if (this.#inflight !== attempt) return;
        this.#inflight = null;
        this.#watchFailed(toCoderoomError(err), first);
      },
    );
  }

  #applyWatch({ snapshot, seq }: DashboardWatchResult): void {
    if (this.#done) return;
    if (!snapshot || typeof snapshot !== 'object' || !Number.isSafeInteger(seq) || seq < 0) {
      this.#fail(new CoderoomError('INTERNAL', 'malformed dashboard:watch answer'));
      return;
    }
    if (this.#seq < 0) {
      this.#adopt(snapshot, seq);
      this.#resolveStarted();
    } else if (seq > this.#seq) {
      // Updates #seq+1..seq follow this answer; if they do not all come, take its snapshot.
      this.#clearCatchUp();
      const timer = setTimeout(() => this.#catchUpTimedOut(), this.#replayWaitMs);
      this.#catchUp = { snapshot, seq, epoch: this.#link.epoch, timer };
    } else if (this.#hasGap()) {
      // The server says we lack nothing up to its seq, yet a seq below what we hold is missing:
      // it cannot be recovered. Go on with what there is rather than wait forever.
      this.#skipGap();
    }
    this.#drain();
  }

  #watchFailed(err: CoderoomError, first: boolean): void {
    if (this.#done) return;
    if (first) {
      this.#fail(err); // the caller of watchDashboard() gets the refusal
      return;
    }
    if (err.code === 'DISCONNECTED' || err.code === 'CLOSED' || !this.#link.connected) return;
    if (isRetryable(err)) {
      // The dashboard is never given up on while the server may still answer.
      const delay = retryDelayMs(err, this.#retries++);
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        this.#watch();
      }, delay);
      return;
    }
    this.#fail(err);
  }

  #catchUpTimedOut(): void {
    const c = this.#catchUp;
    this.#catchUp = null;
    if (!c || this.#done) return;
    if (this.#seq < c.seq) {
      this.#adopt(c.snapshot, c.seq);
      this.#events.emit('snapshot', this.#snapshot);
    }
    this.#drain();
  }

  /** Applies every held update that is next in seq; watches again if a gap remains. */
  #drain(): void {
    for (;;) {
      const next = this.#held.get(this.#seq + 1);
      if (!next) break;
      this.#held.delete(next.seq);
      this.#apply(next);
      if (this.#done) return;
    }
    if (this.#catchUp && this.#seq >= this.#catchUp.seq) this.#clearCatchUp();
    if (this.#held.size > 0 && !this.#catchUp) this.#watch();
  }

  #apply(u: DashboardUpdate): void {
    this.#seq = u.seq;
    this.#snapshot = applyDashboardUpdate(this.#snapshot, u);
    if (u.kind === 'test') this.#addTest(u.test);
    if (u.kind === 'run') this.#pruneTests();
    this.#events.emit('update', u);
  }

  #adopt(snapshot: DashboardSnapshot, seq: number): void {
    this.#snapshot = snapshot;
    this.#seq = seq;
    for (const s of [...this.#held.keys()]) if (s <= seq) this.#held.delete(s);
    this.#pruneTests();
  }

  #hasGap(): boolean {
    return this.#held.size > 0 && !this.#held.has(this.#seq + 1);
  }

  #skipGap(): void {
    const first = Math.min(...this.#held.keys());
    const missing: [number, number] = [this.#seq + 1, first - 1];
    this.#seq = first - 1;
    this.#events.emit(
      'error',
      new CoderoomError(
        'INTERNAL',
        `dashboard updates ${missing[0]}-${missing[1]} of session ${this.sessionId} could not be recovered`,
        { details: { missing: [missing] } },
      ),
    );
  }

  #addTest(test: RunTestEvent): void {
    if (!test || typeof test.runId !== 'string') return;
    const list = this.#tests.get(test.runId) ?? [];
    if (list.some((t) => t.index === test.index)) return;
    list.push(test);
    list.sort((a, b) => a.index - b.index);
    this.#tests.set(test.runId, list);
  }

  /** Keeps the test cases of the runs the snapshot still holds. */
  #pruneTests(): void {
    if (this.#tests.size === 0) return;
    const live = new Set(this.#snapshot.runs.map((r) => r.runId));
    for (const runId of [...this.#tests.keys()]) if (!live.has(runId)) this.#tests.delete(runId);
  }

  #fail(err: CoderoomError): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = err;
    this.#clearRetry();
    this.#clearCatchUp();
    this.#held.clear();
    this.#onEnd(this);
    if (err.code !== 'CLOSED') this.#events.emit('error', err);
    this.#rejectStarted(err);
  }

  #clearCatchUp(): void {
    if (this.#catchUp) clearTimeout(this.#catchUp.timer);
    this.#catchUp = null;
  }

  #clearRetry(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }
}
