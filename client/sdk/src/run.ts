import type {
  OutputChunk,
  OutputStream,
  RunFeedEvent,
  RunFinishedEvent,
  RunStatus,
  RunStatusEvent,
  RunSummary,
  RunTestEvent,
  RunWatchResult,
} from '@coderoom/contracts';
import { Emitter } from './emitter.js';
import { CoderoomError, toCoderoomError } from './errors.js';
import { isRetryable, retryDelayMs } from './retry.js';
import { OutputSequencer } from './sequencer.js';
import type { PayloadOf, RequestEvent, ResultOf } from './types.js';

/** Events of a {@link Run}; subscribe with `run.on(event, listener)`. */
export interface RunEvents {
  /** The run moved on (`queued` → `compiling` → `running`), or its queue position changed. */
  status: (e: RunStatusEvent) => void;
  /** The next chunk of output: exactly once per seq, in seq order. */
  output: (chunk: OutputChunk) => void;
  /** One graded test case (submit mode). */
  test: (e: RunTestEvent) => void;
  /** The run has ended; all of its output has been delivered before this. */
  finished: (e: RunFinishedEvent) => void;
  /**
   * Something went wrong while following the run: the run was lost (`run.error` is then set,
   * e.g. `NOT_FOUND` after a reconnect), or output could not be recovered (the run goes on).
   */
  error: (err: CoderoomError) => void;
}

/** What a run needs from its client. Not part of the public API. */
export interface RunHost {
  readonly connected: boolean;
  /** Goes up by one at every (re)connection of the socket. */
  readonly epoch: number;
  request<E extends RequestEvent>(event: E, payload: PayloadOf<E>): Promise<ResultOf<E>>;
  /** The run needs no more events (finished, failed or unwatched): forget it. */
  release(run: Run): void;
}

/** How the client drives a run. Not part of the public API. */
export interface RunControl {
  receive(e: RunFeedEvent): void;
  /** Asks for everything after `lastSeq` with `run:watch` (a gap, a reconnect, an overflow). */
  resync(): void;
  applyWatch(result: RunWatchResult, afterSeq: number): void;
  fail(err: CoderoomError): void;
  /**
   * Until the next macrotask, the handle's events are queued (its state still changes at once):
   * what is replayed into a handle before the caller has it (events that came before the
   * `run:start` answer) reaches the listeners the caller adds right after `await client.run()`.
   */
  deferEvents(): void;
}

export interface RunInit {
  runId: string;
  status: RunStatus;
  position: number | null;
  /** Output up to this seq is not wanted (watching from the middle). */
  afterSeq: number;
}

const STATUS_ORDER: Record<RunStatus, number> = {
  queued: 0,
  compiling: 1,
  running: 2,
  finished: 3,
};

const isRunStatus = (s: unknown): s is RunStatus =>
  typeof s === 'string' && Object.hasOwn(STATUS_ORDER, s);

const MAX_WATCH_RETRIES = 5;

const noop = (): void => undefined;

/**
 * One run, started by this client (`client.run`) or followed (`client.watch`).
 *
 * State (`status`, `position`, `chunks`, `tests`, `outcome`) is always current, including events
 * that arrived before you got the handle; `on(...)` reports changes from the moment you
 * subscribe; `output()` / `for await (const chunk of run)` yields every chunk from the first one
 * held, then live ones, and ends when the run has finished.
 *
 * Output is exactly-once and in seq order, across gaps and reconnects: the run keeps `lastSeq`,
 * drops duplicates, holds chunks that arrive after a gap and asks the server for the missing
 * ones (`run:watch { afterSeq: lastSeq }`), and does the same after every reconnect.
 */
export class Run implements AsyncIterable<OutputChunk> {
  readonly id: string;
  /** Resolves with `run:finished` once all output is delivered; rejects if the run is lost. */
  readonly result: Promise<RunFinishedEvent>;

  readonly #host: RunHost;
  readonly #events = new Emitter<RunEvents>();
  /** Events waiting for the next macrotask (deferEvents), in order; null when not deferring. */
  #deferred: Array<() => void> | null = null;
  readonly #seq: OutputSequencer;
  readonly #chunks: OutputChunk[] = [];
  readonly #tests = new Map<number, RunTestEvent>();
  #status: RunStatus;
  #position: number | null;
  #summary: RunSummary | null = null;
  #outcome: RunFinishedEvent | null = null;
  #error: CoderoomError | null = null;
  #done = false;
  /** A `run:finished` that waits for missing output to arrive first. */
  #pendingFinish: RunFinishedEvent | null = null;
  /** The `run:watch` in flight, and on which connection it was sent. */
  #inflight: { epoch: number; afterSeq: number } | null = null;
  /** `lastSeq` when a gap was last found still open after a watch (so it is retried once). */
  #gapRetriedAt = -1;
  #retries = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #waiters: Array<() => void> = [];
  #resolve: (e: RunFinishedEvent) => void = noop;
  #reject: (e: CoderoomError) => void = noop;

  /** @internal Runs are made by `CoderoomClient.run` and `CoderoomClient.watch`. */
  constructor(host: RunHost, init: RunInit, bind: (control: RunControl) => void) {
    this.#host = host;
    this.id = init.runId;
    this.#status = init.status;
    this.#position = init.position;
    this.#seq = new OutputSequencer(init.afterSeq);
    this.result = new Promise<RunFinishedEvent>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Nobody has to await `result`: a lost run must not become an unhandled rejection.
    this.result.catch(noop);
    bind({
      receive: (e) => this.#receive(e),
      resync: () => this.#resync(),
      applyWatch: (r, afterSeq) => this.#applyWatch(r, afterSeq),
      fail: (err) => this.#fail(err),
      deferEvents: () => this.#deferEvents(),
    });
  }

  /** `queued`, `compiling`, `running`, then `finished`. */
  get status(): RunStatus {
    return this.#status;
  }

  /** Position in the queue while `queued` (1 = next), otherwise null. */
  get position(): number | null {
    return this.#position;
  }

  /** Highest seq such that all output up to it has been delivered. */
  get lastSeq(): number {
    return this.#seq.lastSeq;
  }

  /** Every output chunk delivered so far, in seq order (a live, read-only view). */
  get chunks(): readonly OutputChunk[] {
    return this.#chunks;
  }

  /** Graded test cases so far (submit mode), by index. */
  get tests(): RunTestEvent[] {
    return [...this.#tests.values()].sort((a, b) => a.index - b.index);
  }

  /** The `run:finished` event once the run has finished, else null. */
  get outcome(): RunFinishedEvent | null {
    return this.#outcome;
  }

  /** Why the run was lost (it will not finish here), else null. */
  get error(): CoderoomError | null {
    return this.#error;
  }

  /** True once the run has finished or was lost: no more events will come. */
  get done(): boolean {
    return this.#done;
  }

  /** The summary from the last `run:watch` (owner, language, mode, times), if any. */
  get summary(): RunSummary | null {
    return this.#summary;
  }

  /** The output so far as text: all streams, or one (`'stdout'`, `'stderr'`, `'compile'`). */
  text(stream?: OutputStream): string {
    let s = '';
    for (const c of this.#chunks) if (!stream || c.stream === stream) s += c.data;
    return s;
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends keyof RunEvents>(event: E, listener: RunEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  /** Subscribes for one event only; returns the function that unsubscribes. */
  once<E extends keyof RunEvents>(event: E, listener: RunEvents[E]): () => void {
    return this.#events.once(event, listener);
  }

  /**
   * Iterates over the output: every chunk already delivered, then live chunks as they come,
   * optionally of one stream only. Ends when the run has finished (after its last chunk);
   * throws the run's error if it is lost. Each call is an independent iterator.
   */
  output(options: { stream?: OutputStream } = {}): AsyncIterableIterator<OutputChunk> {
    let i = 0;
    let stopped = false;
    const { stream } = options;
    const next = async (): Promise<IteratorResult<OutputChunk>> => {
      for (;;) {
        while (!stopped && i < this.#chunks.length) {
          const chunk = this.#chunks[i++];
          if (!stream || chunk.stream === stream) return { value: chunk, done: false };
        }
        if (stopped) return { value: undefined, done: true };
        if (this.#error) {
          stopped = true;
          throw this.#error;
        }
        if (this.#done) return { value: undefined, done: true };
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    };
    const iterator: AsyncIterableIterator<OutputChunk> = {
      next,
      return: () => {
        stopped = true;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  [Symbol.asyncIterator](): AsyncIterator<OutputChunk> {
    return this.output();
  }

  /**
   * Asks the server to cancel the run. Resolves once the request is accepted; the run then
   * ends with `run:finished` (verdict `CANCELLED`, unless it finished first). Throws
   * `CONFLICT` if the run has already finished, `FORBIDDEN` if it is not yours.
   */
  async cancel(): Promise<void> {
    await this.#host.request('run:cancel', { runId: this.id });
  }

  /** Sends input to an interactive run (owner only); `eof: true` closes its stdin. */
  async input(data: string, options: { eof?: boolean } = {}): Promise<void> {
    await this.#host.request('run:input', {
      runId: this.id,
      data,
      ...(options.eof === undefined ? {} : { eof: options.eof }),
    });
  }

  /**
   * Stops following the run (`run:unwatch`): no more events, iterators end with and `result`
   * rejects with `CLOSED`. The run itself goes on. Never throws.
   */
  async unwatch(): Promise<void> {
    if (this.#done) return;
    this.#fail(new CoderoomError('CLOSED', 'stopped watching the run'));
    try {
      await this.#host.request('run:unwatch', { runId: this.id });
    } catch {
      // Best effort: the server forgets this socket's subscriptions when it disconnects.
    }
  }

  // --- driven by the client -------------------------------------------------------------

  #emit<E extends keyof RunEvents>(event: E, ...args: Parameters<RunEvents[E]>): void {
    this.#inOrder(() => this.#events.emit(event, ...args));
  }

  /** Now, or after the events deferred before it (the result settles after its events). */
  #inOrder(fn: () => void): void {
    if (this.#deferred) this.#deferred.push(fn);
    else fn();
  }

  #deferEvents(): void {
    if (this.#deferred) return;
    const queue: Array<() => void> = (this.#deferred = []);
    setTimeout(() => {
      this.#deferred = null;
      for (const emit of queue) emit();
    }, 0);
  }

  #receive(e: RunFeedEvent): void {
    if (this.#done) return;
    switch (e.kind) {
      case 'run:status':
        this.#applyStatus(e.event);
        return;
      case 'run:output': {
        const { outcome, delivered } = this.#seq.push(e.event);
        this.#deliver(delivered);
        if (outcome === 'held') this.#resync();
        return;
      }
      case 'run:test':
        this.#addTest(e.event);
        return;
      case 'run:finished':
        this.#pendingFinish ??= e.event;
        this.#maybeFinish();
        return;
      default: {
        const never: never = e;
        void never;
      }
    }
  }

  #resync(): void {
    if (this.#done || !this.#host.connected) return; // the reconnect will resync
    const epoch = this.#host.epoch;
    // One watch at a time per connection; its answer covers whatever arrived meanwhile.
    if (this.#inflight?.epoch === epoch) return;
    this.#clearRetry();
    const attempt = { epoch, afterSeq: this.#seq.lastSeq };
    this.#inflight = attempt;
    this.#host.request('run:watch', { runId: this.id, afterSeq: attempt.afterSeq }).then(
      (result) => {
        if (this.#inflight !== attempt) return;
        this.#inflight = null;
        this.#retries = 0;
        this.#applyWatch(result, attempt.afterSeq);
      },
      (err: unknown) => {
        if (this.#inflight !== attempt) return;
        this.#inflight = null;
        this.#watchFailed(toCoderoomError(err));
      },
    );
  }

  #applyWatch({ run: summary, backlog }: RunWatchResult, afterSeq: number): void {
    if (this.#done) return;
    if (!summary || typeof summary !== 'object') {
      this.#fail(new CoderoomError('INTERNAL', 'malformed run:watch answer: no run summary'));
      return;
    }
    this.#summary = summary;
    this.#deliver(this.#seq.pushAll(Array.isArray(backlog) ? backlog : []));
    if (summary.status === 'finished') {
      if (summary.result) this.#pendingFinish ??= { runId: this.id, ...summary.result };
      else {
        this.#fail(
          new CoderoomError('INTERNAL', 'the server says the run finished without result'),
        );
        return;
      }
    } else if (isRunStatus(summary.status)) {
      this.#applyStatus({
        runId: this.id,
        status: summary.status,
        at: (summary.status === 'queued' ? null : summary.startedAt) ?? summary.createdAt,
      });
    }
    if (this.#seq.hasGap) {
      // The answer should have filled every gap. Ask once more if it moved us on; otherwise the
      // server no longer has that output: report it and go on with what there is.
      if (this.#seq.lastSeq > afterSeq && this.#gapRetriedAt !== this.#seq.lastSeq) {
        this.#gapRetriedAt = this.#seq.lastSeq;
        this.#resync();
        return;
      }
      this.#skipGap();
    }
    this.#maybeFinish();
  }

  #watchFailed(err: CoderoomError): void {
    if (this.#done) return;
    // Lost connection: the reconnect resyncs. Closed client: close() fails the run.
    if (err.code === 'DISCONNECTED' || err.code === 'CLOSED' || !this.#host.connected) return;
    if (isRetryable(err) && this.#retries < MAX_WATCH_RETRIES) {
      const delay = retryDelayMs(err, this.#retries);
      this.#retries++;
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        this.#resync();
      }, delay);
      return;
    }
    if (this.#pendingFinish) {
      // The run is over; only some output is missing. Report it and finish.
      this.#emit('error', err);
      this.#skipGap();
      this.#maybeFinish();
      return;
    }
    this.#fail(err);
  }

  #skipGap(): void {
    const { delivered, missing } = this.#seq.skipGap();
    if (missing.length === 0) return;
    const ranges = missing.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ');
    this.#emit(
      'error',
      new CoderoomError(
        'INTERNAL',
        `output seq ${ranges} of run ${this.id} could not be recovered`,
        {
          details: { missing },
        },
      ),
    );
    this.#deliver(delivered);
  }

  #applyStatus(e: RunStatusEvent): void {
    if (this.#done || !isRunStatus(e?.status) || e.status === ('finished' as RunStatus)) return;
    const from = STATUS_ORDER[this.#status];
    const to = STATUS_ORDER[e.status];
    const position = e.status === 'queued' ? (e.position ?? this.#position) : null;
    if (to < from || (to === from && position === this.#position)) return;
    this.#status = e.status;
    this.#position = position;
    this.#emit('status', e);
  }

  #addTest(e: RunTestEvent): void {
    if (!e || typeof e.index !== 'number' || this.#tests.has(e.index)) return;
    this.#tests.set(e.index, e);
    this.#emit('test', e);
  }

  #deliver(chunks: readonly OutputChunk[]): void {
    if (chunks.length === 0) return;
    for (const c of chunks) {
      this.#chunks.push(c);
      this.#emit('output', c);
    }
    this.#wake();
  }

  #maybeFinish(): void {
    const e = this.#pendingFinish;
    if (!e || this.#done || this.#seq.hasGap || this.#inflight) return;
    // run:test events missed while disconnected are in the result.
    for (const t of e.tests ?? []) this.#addTest(t);
    this.#done = true;
    this.#status = 'finished';
    this.#position = null;
    this.#outcome = e;
    this.#clearRetry();
    this.#host.release(this);
    this.#emit('finished', e);
    this.#inOrder(() => this.#resolve(e));
    this.#wake();
  }

  #fail(err: CoderoomError): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = err;
    this.#clearRetry();
    this.#host.release(this);
    if (err.code !== 'CLOSED') this.#emit('error', err);
    this.#inOrder(() => this.#reject(err));
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #clearRetry(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }
}
