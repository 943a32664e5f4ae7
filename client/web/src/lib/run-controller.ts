import type {
  OutputChunk,
  Run,
  RunFinishedEvent,
  RunStartPayload,
  SourceFile,
} from '@coderoom/sdk';
import { toUiError, type UiError } from './errors';
import type { RunPhase } from './format';
import { Store } from './store';

export interface RunView {
  runId: string | null;
  phase: RunPhase;
  /** Queue position while queued. */
  position: number | null;
  /** `performance.now()` when the page saw the run start running (for the elapsed time). */
  runningSince: number | null;
  result: RunFinishedEvent | null;
  /** Last error about this run (start refused, cancel or input failed, output lost). */
  error: UiError | null;
  /** `Date.now()` when `error` arrived (its `retryAfterMs` counts from there). */
  errorAt: number | null;
  cancelling: boolean;
  interactive: boolean;
  /** The program's stdin was closed (EOF sent, or the run ended). */
  inputClosed: boolean;
}

export interface RunRequest {
  language: string;
  /** One of the language's `versions` (`languages:list`); absent: its default. */
  version?: string;
  /** One file: sent as `source`; more: sent as `files` (the first is the language's main file). */
  files: readonly SourceFile[];
  stdin: string;
  interactive: boolean;
}

/** What the output view is told: program output in seq order, or the user's echoed input. */
export type OutputEvent =
  { kind: 'reset' } | { kind: 'chunk'; chunk: OutputChunk } | { kind: 'echo'; data: string };

/** The part of `CoderoomClient` a controller needs (so tests can hand in a fake). */
export interface RunStarter {
  run(request: RunStartPayload): Promise<Run>;
  /** Follows someone else's run (`run:watch`): needed by `watch` only. */
  watch?(runId: string): Promise<Run>;
}

const IDLE: RunView = {
  runId: null,
  phase: 'idle',
  position: null,
  runningSince: null,
  result: null,
  error: null,
  errorAt: null,
  cancelling: false,
  interactive: false,
  inputClosed: true,
};

/**
 * The run of the editor screen: start, stop, feed input. Its state is a store (re-rendered on
 * status changes only); the output goes to `onOutput` listeners chunk by chunk, so a view can
 * append each chunk to a terminal without re-rendering what it already shows. The SDK's `Run`
 * delivers output exactly once and in order, across reconnects, so nothing is de-duplicated
 * here.
 */
export class RunController extends Store<RunView> {
  readonly #client: RunStarter;
  readonly #now: () => number;
  readonly #outputListeners = new Set<(e: OutputEvent) => void>();
  #run: Run | null = null;
  #detach: () => void = () => undefined;
  #cancelRequested = false;
  /** The run shown was someone else's, followed with `watch` (unwatched when left). */
  #watching = false;
  /** Bumped by every `start`/`watch`: an answer for an older one is dropped. */
  #generation = 0;

  constructor(client: RunStarter, now: () => number = () => performance.now()) {
    super(IDLE);
    this.#client = client;
    this.#now = now;
  }

  get busy(): boolean {
    const { phase } = this.value;
    return phase !== 'idle' && phase !== 'finished';
  }

  /** Listens to the output of the runs to come; returns the unsubscribe function. */
  onOutput(fn: (e: OutputEvent) => void): () => void {
    this.#outputListeners.add(fn);
    return () => this.#outputListeners.delete(fn);
  }

  /**
   * Shows someone else's run (an instructor following a student): its output so far, then live,
   * until it ends or another run is watched. Errors end up in `value.error`.
   */
  async watch(runId: string): Promise<void> {
    const client = this.#client;
    if (!client.watch) throw new Error('this client cannot watch runs');
    if (this.#run?.id === runId && !this.value.error) return;
    const generation = this.#leave();
    this.#emit({ kind: 'reset' });
    this.set({ ...IDLE, runId, phase: 'starting' });
    let run: Run;
    try {
      run = await client.watch(runId);
    } catch (e) {
      if (generation === this.#generation)
        this.set({ ...IDLE, runId, error: toUiError(e), errorAt: Date.now() });
      return;
    }
    if (generation !== this.#generation) {
      void run.unwatch().catch(() => undefined);
      return;
    }
    this.#watching = true;
    this.#follow(run, false);
  }

  /** Stops showing the current run (a watched one is unwatched); the view goes idle. */
  stop(): void {
    this.#leave();
    this.#emit({ kind: 'reset' });
    this.set(IDLE);
  }

  /** Detaches from the run shown (unwatching someone else's); returns the new generation. */
  #leave(): number {
    this.#detach();
    this.#detach = () => undefined;
    const prev = this.#run;
    if (prev && this.#watching && !prev.done) void prev.unwatch().catch(() => undefined);
    this.#run = null;
    this.#watching = false;
    return ++this.#generation;
  }

  /** Starts a run; errors end up in `value.error`. */
  async start(req: RunRequest): Promise<void> {
    if (this.busy) return;
    this.#leave();
    this.#cancelRequested = false;
    this.#emit({ kind: 'reset' });
    this.set({ ...IDLE, phase: 'starting', interactive: req.interactive });

    const program =
      req.files.length === 1 ? { source: req.files[0].content } : { files: [...req.files] };
    let run: Run;
    try {
      run = await this.#client.run({
        language: req.language,
        ...(req.version ? { version: req.version } : {}),
        ...program,
        ...(req.stdin === '' ? {} : { stdin: req.stdin }),
        ...(req.interactive ? { interactive: true } : {}),
      });
    } catch (e) {
      this.set({ ...IDLE, error: toUiError(e), errorAt: Date.now() });
      return;
    }
    this.#follow(run, req.interactive);
    if (this.#cancelRequested) await this.cancel();
  }

  /** Stops the current run (it then finishes as CANCELLED). */
  async cancel(): Promise<void> {
    const view = this.value;
    if (view.phase === 'starting') {
      this.#cancelRequested = true;
      this.patch({ cancelling: true });
      return;
    }
    const run = this.#run;
    if (!run || run.done || !this.busy) return;
    this.patch({ cancelling: true });
    try {
      await run.cancel();
    } catch (e) {
      if (this.#run === run && !run.done) this.#fail(e, { cancelling: false });
    }
  }

  /** Sends a line the user typed to the program's stdin (echoed in the output). */
  async input(line: string): Promise<void> {
    const run = this.#run;
    if (!run || run.done || this.value.inputClosed) return;
    this.#emit({ kind: 'echo', data: line });
    try {
      await run.input(line);
    } catch (e) {
      if (this.#run === run) this.#fail(e);
    }
  }

  /** Closes the program's stdin (what Ctrl+D does in a terminal). */
  async endInput(): Promise<void> {
    const run = this.#run;
    if (!run || run.done || this.value.inputClosed) return;
    this.patch({ inputClosed: true });
    try {
      await run.input('', { eof: true });
    } catch (e) {
      if (this.#run === run) this.#fail(e);
    }
  }

  /** Clears a shown error (e.g. when its countdown is over and the user dismisses it). */
  dismissError(): void {
    this.patch({ error: null, errorAt: null });
  }

  /** Shows `run` and follows its events. The SDK has already applied what came before. */
  #follow(run: Run, interactive: boolean): void {
    this.#run = run;
    this.set({
      ...IDLE,
      runId: run.id,
      phase: run.status,
      position: run.position,
      runningSince: run.status === 'running' ? this.#now() : null,
      result: run.outcome,
      cancelling: this.#cancelRequested && !run.done,
      interactive,
      inputClosed: !interactive || run.done,
    });
    for (const chunk of run.chunks) this.#emit({ kind: 'chunk', chunk });
    const offs = [
      run.on('status', () =>
        this.patch({
          phase: run.status,
          position: run.position,
          runningSince: run.status === 'running' ? (this.value.runningSince ?? this.#now()) : null,
        }),
      ),
      run.on('output', (chunk) => this.#emit({ kind: 'chunk', chunk })),
      run.on('finished', (e) =>
        this.patch({
          phase: 'finished',
          result: e,
          position: null,
          cancelling: false,
          inputClosed: true,
        }),
      ),
      run.on('error', (err) =>
        // A lost run will not finish here; otherwise (some output lost) it goes on.
        this.#fail(
          err,
          run.error ? { phase: 'finished', cancelling: false, inputClosed: true } : {},
        ),
      ),
    ];
    this.#detach = () => offs.forEach((off) => off());
  }

  #fail(e: unknown, patch: Partial<RunView> = {}): void {
    this.patch({ ...patch, error: toUiError(e), errorAt: Date.now() });
  }

  #emit(e: OutputEvent): void {
    for (const fn of [...this.#outputListeners]) fn(e);
  }
}
