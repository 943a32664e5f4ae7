import type { Logger } from '@nestjs/common';
import {
  languageLimits,
  type LanguageDefinition,
  type RunJob,
  type RunResult,
} from '@coderoom/contracts';
import { traceRun } from '@coderoom/platform';
import { tierOf, type RunLimits, type WorkerConfig } from '../config/config.js';
import {
  LABEL_RUN,
  LABEL_WORKER,
  type DockerRepository,
  type SandboxIo,
  type SandboxSpec,
} from '../repositories/docker.repository.js';
import type { LanguageRepository } from '../repositories/language.repository.js';
import type { MetricsRepository } from '../repositories/metrics.repository.js';
import type { RunFeedRepository, RunFeedWriter } from '../repositories/run-feed.repository.js';
import type { RunRepository } from '../repositories/run.repository.js';
import { CpuBudget } from './cpu-budget.js';
import { withDeadline as deadline } from './deadline.js';
import type { DockerWatchService } from './docker-watch.service.js';
import { sandboxImage, type LanguageImagesService } from './language-images.service.js';
import { OutputCoalescer } from './output-coalescer.js';
import { RunLifecycle } from './run-lifecycle.js';
import { containerSandbox, type RunSandbox } from './run-sandbox.js';
import {
  RUNNER_END,
  RunnerStdoutParser,
  encodeRunnerInput,
  encodeRunnerTest,
  encodeRunnerTestsInput,
  type TestFrame,
} from './runner-protocol.js';
import { Submission } from './submission.js';
import type { SandboxJanitorService } from './sandbox-janitor.service.js';
import type { StartupGateService } from './startup-gate.service.js';
import { judge, judgeSubmission, type RunOutcome } from './verdict.js';
import type { SlotPoolService, SlotSandbox } from './slot-pool.service.js';
import type { WarmPoolService } from './warm-pool.service.js';

/** How long after exit we wait for Docker to deliver the last output bytes. */
const DRAIN_MS = 2000;
/**
 * How long Docker may take to report the exit after a kill, or to answer the inspect after the
 * exit. Past it the run ends as SE and the janitor keeps trying to remove the sandbox.
 */
const ENGINE_GRACE_MS = 5000;
/** How long the end of a run is retried while Redis refuses it (then the reconciler ends it). */
const FINISH_RETRY_MS = 60_000;
/**
 * A run still going after this long is marked `running` in MongoDB; a shorter one is written
 * once, when it ends (with its start time). Its live state in Redis says `running` from the
 * start, and that is what readers get while a run is live (server: RunService.load).
 */
const MARK_RUNNING_AFTER_MS = 1000;
/**
 * Submit mode: the runner enforces each test's wall clock; the worker kills the sandbox when a
 * test's result is this much later than its limit (a runner that hangs): that test is TLE.
 */
const TEST_GRACE_MS = 2000;

/** What a run needs from the worker's services (RunExecutionService hands them over). */
export interface SandboxRunDeps {
  config: WorkerConfig;
  docker: DockerRepository;
  languages: LanguageRepository;
  images: LanguageImagesService;
  feeds: RunFeedRepository;
  runs: RunRepository;
  metrics: MetricsRepository;
  janitor: SandboxJanitorService;
  pool: WarmPoolService;
  /** The slot tier (SANDBOX_TIER, SANDBOX_TIER_LANGUAGES); absent: every run gets a container. */
  slots?: SlotPoolService;
  gate: StartupGateService;
  dockerWatch?: DockerWatchService;
  logger: Logger;
}

/**
 * The steps of one run, in this order (each method moves to the next state and throws when
 * called out of order; `cleanUp` is allowed from any state and is always the last):
 *
 *   new --check--> checked --getSandbox--> sandboxed --start--> started --waitForExit--> exited
 *   (checked | sandboxed | started | exited) --finish--> finished;  any --cleanUp--> cleaned
 *
 * `failed(err)` records an engine failure (Docker, protocol) at any step before `finish`: the run
 * then ends as SE (or CANCELLED, when a cancel stopped it before its sandbox started; or CE, with
 * the reason as compile output, when its language's image is not on this worker).
 * A cancel, the wall clock, the CPU budget and the output limit kill the sandbox at any time;
 * what happened is collected in `outcome` and judged in `finish` (verdict.ts).
 */
export type SandboxRunState =
  'new' | 'checked' | 'sandboxed' | 'started' | 'exited' | 'finished' | 'cleaned';

const NEXT: Record<SandboxRunState, readonly SandboxRunState[]> = {
  new: ['checked'],
  checked: ['sandboxed', 'finished'],
  sandboxed: ['started', 'finished'],
  started: ['exited', 'finished'],
  exited: ['finished'],
  finished: [],
  cleaned: [],
};

/** One run in one fresh sandbox: everything it holds lives here, from the check to the clean-up. */
export class SandboxRun {
  private state: SandboxRunState = 'new';
  /** The run's public status (queued -> compiling -> running -> finished), as announced. */
  private readonly lifecycle: RunLifecycle;
  private readonly feed: RunFeedWriter;
  private readonly outcome: RunOutcome = {
    killedFor: null,
    compileExit: null,
    oomKilled: false,
    exitCode: null,
    protocolError: false,
  };
  private language!: LanguageDefinition;
  private limits!: RunLimits;

  // The sandbox and its streams (getSandbox).
  private sandbox: RunSandbox | null = null;
  /** Slot tier: the slot being taken while the check travels (reserveSlot), until used. */
  private reserved: Promise<SlotSandbox> | null = null;
  /** Whether the sandbox was started before the run took it (pooled, or a slot). */
  private warm = false;
  private io!: SandboxIo;
  private exited!: Promise<number>;
  private cpu: CpuBudget | null = null;
  private out: OutputCoalescer | null = null;
  private parser!: RunnerStdoutParser;
  /** Submit mode with tests (`job.submit`): the tests, their order and verdicts. */
  private submission: Submission | null = null;
  /** Submit mode: a frame came that no test was waiting for (a broken or tampered runner). */
  private unexpectedFrame = false;
  private testStartedAt = 0;

  // Clocks and times.
  private timer: NodeJS.Timeout | null = null;
  private killDeadline: NodeJS.Timeout | null = null;
  private markRunning: NodeJS.Timeout | null = null;
  private runStartedAt = 0;
  private runEndedAt = 0;
  private startedAt: Date | null = null;

  // Bookkeeping in Redis and MongoDB.
  private marked: Promise<void> | null = null;
  private started: Promise<void> | null = null;
  /** The start record created the run's document (RunRepository.finish checks its end then). */
  private createdDocument = false;
  private finishedAt: Date | null = null;
  private result: RunResult | null = null;

  // Undo actions for cleanUp.
  private readonly stopListening: () => void;
  private stopInput = (): void => undefined;
  private printed = (): void => undefined;

  /** Rejects ENGINE_GRACE_MS after the first kill: Docker failed to stop the sandbox. */
  private readonly stuck: Promise<never>;
  private giveUp!: (err: Error) => void;

  constructor(
    readonly job: RunJob,
    private readonly deps: SandboxRunDeps,
  ) {
    this.lifecycle = new RunLifecycle(job.runId);
    this.feed = deps.feeds.open(job.runId, job.ownerId, job);
    this.stuck = new Promise<never>((_, reject) => (this.giveUp = reject));
    this.stuck.catch(() => undefined);
    // Listening from the start: a cancel published before the check is not missed.
    this.stopListening = deps.feeds.onCancel(job.runId, () => this.kill('CANCELLED'));
  }

  get runId(): string {
    return this.job.runId;
  }

  get status(): SandboxRunState {
    return this.state;
  }

  /** Bytes of output this run sent (held in memory until its result is stored). */
  get outputBytes(): number {
    return this.feed.sent.reduce((n, c) => n + c.data.length, 0);
  }

  /**
   * Step 1: may this worker run it? 'taken' (another worker has it: never run it twice),
   * 'cancelled' (finish it as such at once) or 'ok'. On 'ok' the run is marked as ours.
   */
  async check(): Promise<'ok' | 'taken' | 'cancelled'> {
    this.to('checked');
    const check = await this.deps.feeds.preRunCheck(this.runId);
    traceRun('worker-checked', this.runId);
    if (check === 'cancelled') this.outcome.killedFor = 'CANCELLED';
    if (check !== 'ok') return check;
    // Not awaited: the mark (our claim should this worker die) travels while the sandbox
    // starts; a failed one is repeated by the heartbeat.
    this.marked = this.deps.feeds
      .markRunning(this.runId, {
        workerId: this.deps.config.workerId,
        instance: this.deps.config.instance,
        ownerId: this.job.ownerId,
      })
      .catch((err: Error) =>
        this.deps.logger.warn(`run ${this.runId}: cannot mark it: ${err.message}`),
      );
    return check;
  }

  /**
   * Slot tier, between `check` and `getSandbox` (RunExecutionService calls it while the check is
   * on its way to Redis): starts taking a slot, so that this local work overlaps the round trip.
   * Nothing reaches the slot before `getSandbox`, which the check must have allowed; a run that
   * never gets there gives it back unused in `cleanUp`. Other tiers: nothing (a container made
   * for a run that another worker took would be pure waste).
   */
  reserveSlot(): void {
    const { config, slots, languages, images } = this.deps;
    if (this.state !== 'checked' || this.reserved || !slots) return;
    const language = languages.get(this.job.language);
    if (!language || !images.has(language.id) || tierOf(config, language.id) !== 'slot') return;
    this.reserved = slots.take(sandboxSpec(config, language, this.job.mode, this.job.submit));
    this.reserved.catch(() => undefined); // getSandbox awaits it, or cleanUp gives it back
  }

  /**
   * Step 2: a sandbox with its streams attached and wired: a pooled (already started) one, or a
   * new one, created and attached but not started yet (`start` starts it).
   */
  async getSandbox(): Promise<void> {
    this.to('sandboxed');
    const { config, docker, janitor, pool, gate } = this.deps;
    await janitor.ready;
    const language = this.deps.languages.get(this.job.language);
    if (!language || !this.deps.images.has(language.id)) {
      throw new LanguageUnavailable(
        language
          ? `${sandboxImage(config, language)} is not built on this worker`
          : 'it is not installed on this worker',
      );
    }
    this.language = language;
    this.limits = limitsFor(config, language, this.job.mode);
    const spec = sandboxSpec(config, language, this.job.mode, this.job.submit);
    if (this.job.mode === 'submit' && this.job.submit) {
      // Without `submit` (an older gateway) a submission runs as a run with submit limits.
      const submit = this.job.submit;
      this.submission = new Submission(this.runId, submit, {
        wallMs: submit.wallMs ?? this.limits.wallMs,
        cpuMs: submit.cpuMs ?? this.limits.cpuMs,
        outputBytes: this.limits.outputBytes,
        totalOutputBytes: config.submitOutputBytes,
      });
    }
    this.parser = new RunnerStdoutParser(
      this.submission ? { limitBytes: this.limits.outputBytes } : undefined,
    );
    // Until it prints (or ends), background Docker work waits for this run (StartupGate).
    this.printed = gate.begin();
    const startMs = this.startMs;
    const slots = this.deps.slots;
    if (slots && tierOf(config, language.id) === 'slot') {
      // A run in a reused slot container, in a fresh bubblewrap sandbox (slot-pool.service.ts).
      const taking = this.reserved ?? slots.take(spec);
      this.reserved = null;
      this.sandbox = await withDeadline(taking, startMs).catch((err: Error) => {
        void taking.then((late) => late.release(true)).catch(() => undefined);
        throw err;
      });
      this.warm = true;
    } else {
      const taking = pool.take(spec);
      const ready = await withDeadline(taking, startMs).catch((err: Error) => {
        void taking.then((late) => late && janitor.dispose(late.id)).catch(() => undefined);
        throw err;
      });
      if (ready) {
        this.sandbox = containerSandbox(ready.id, ready.io, ready.exited, true, docker, janitor);
        this.warm = true;
      } else {
        const creating = docker.create({
          ...spec,
          labels: { [LABEL_RUN]: this.runId, [LABEL_WORKER]: config.workerId },
        });
        const id = await withDeadline(creating, startMs).catch((err: Error) => {
          void creating.then((late) => janitor.dispose(late)).catch(() => undefined);
          throw err;
        });
        // The container is ours: removed here if the attach fails, else by cleanUp.
        const io = await withDeadline(docker.attach(id), startMs).catch((err: Error) => {
          janitor.dispose(id);
          throw err;
        });
        this.sandbox = containerSandbox(id, io, docker.waitForExit(id), false, docker, janitor);
      }
    }
    traceRun('worker-sandbox', this.runId);
    const sandbox = this.sandbox;
    ({ io: this.io, exited: this.exited } = sandbox);
    this.deps.logger.debug({
      msg: 'sandbox',
      runId: this.runId,
      containerId: sandbox.id,
      warm: this.warm,
    });
    this.cpu = new CpuBudget(
      () => sandbox.cpuUsageMs(),
      this.limits.cpus,
      () => this.kill('CPU'),
    );
    this.wireOutput();
  }

  /**
   * Step 3: starts the sandbox (a new one), writes the program and its stdin, and starts the
   * clocks of the first stage (compile, or run for an interpreted language).
   */
  async start(): Promise<void> {
    this.to('started');
    if (!this.warm) {
      if (this.outcome.killedFor) throw new CancelledBeforeStart();
      await withDeadline(this.sandbox!.start(), this.startMs);
    }
    if (this.outcome.killedFor) this.kill(this.outcome.killedFor); // cancelled while starting
    const begun = new Date();
    this.startedAt = begun;
    // The program first; the clocks start with it, the bookkeeping follows.
    const { compile, run } = this.language;
    if (this.submission) {
      // The tests follow one by one, each after the previous one's result (sendNextTest).
      this.io.write(encodeRunnerTestsInput(compile, run, this.job.files));
    } else {
      this.io.write(encodeRunnerInput(compile, run, this.job.files));
      traceRun('worker-written', this.runId);
      if (this.job.stdin) this.io.write(this.job.stdin);
      if (this.job.interactive) this.stopInput = this.pumpInput();
      else this.io.closeStdin();
    }
    if (this.language.compile) {
      this.feed.status(this.lifecycle.to('compiling'), begun);
      this.timer = setTimeout(() => this.kill('COMPILE_TIMEOUT'), this.limits.compileWallMs);
      this.cpu!.begin('compile', this.limits.compileCpuMs);
    } else if (!this.submission) {
      this.startRunPhase();
    } // else the tests start with the runner's (empty) compile report: compiled()
    this.markRunning = setTimeout(() => {
      this.started = this.deps.runs.markStarted(this.runId, begun).then(
        (created) => void (this.createdDocument = created),
        (err: Error) => {
          // Its outcome is unknown: it may have created the document.
          this.createdDocument = true;
          this.deps.logger.warn(`run ${this.runId}: cannot record start: ${err.message}`);
        },
      );
    }, MARK_RUNNING_AFTER_MS);
  }

  /**
   * Step 4: waits for the sandbox to exit (or Docker to fail to stop it after a kill), lets its
   * output drain, and collects what the verdict needs: the CPU account, the OOM state, the peak
   * memory.
   */
  async waitForExit(): Promise<void> {
    this.to('exited');
    const { dockerWatch } = this.deps;
    const sandbox = this.sandbox!;
    const outcome = this.outcome;
    outcome.exitCode = await Promise.race([this.exited, this.stuck]);
    this.runEndedAt = performance.now();
    traceRun('worker-exited', this.runId);
    this.printed();
    this.clearTimer();
    await Promise.race([this.io.ended, sleep(DRAIN_MS)]);
    const cpuExceeded = this.cpu!.settle();
    outcome.cpuExceeded = cpuExceeded;
    outcome.memoryKb = sandbox.peakMemoryKb();
    outcome.oomKilled = await withDeadline(sandbox.oomKilled(), ENGINE_GRACE_MS);
    this.abandonTest();
    // We never send SIGTERM (exit 143); a daemon that shuts down does, to every container.
    if (outcome.exitCode === 143 && !outcome.killedFor && (await dockerWatch?.goingAway())) {
      throw new Error('the Docker engine shut down under the run');
    }
    outcome.protocolError = this.parser.error !== null || this.unexpectedFrame;
    if (this.parser.error) this.deps.logger.error(`run ${this.runId}: ${this.parser.error}`);
    if (outcome.killedFor === 'COMPILE_TIMEOUT') {
      this.out!.push(
        'compile',
        Buffer.from(`\ncompilation exceeded ${this.limits.compileWallMs} ms\n`),
      );
    } else if (cpuExceeded === 'compile') {
      this.out!.push(
        'compile',
        Buffer.from(`\ncompilation exceeded ${this.limits.compileCpuMs} ms of CPU time\n`),
      );
    }
  }

  /**
   * Any step failed: an engine failure (Docker, image, protocol) is the system's fault and ends
   * the run as SE; a cancel that came while the sandbox was being created ends it as CANCELLED.
   */
  failed(err: unknown): void {
    if (err instanceof SandboxStuck) this.outcome.exitUnknown = true;
    if (err instanceof CancelledBeforeStart) return;
    if (err instanceof LanguageUnavailable) {
      // The gateway admits what some live worker has; this one lacks it (a mixed cluster, or an
      // image removed since): the request cannot run here, and the system did not fail.
      this.outcome.unavailable = true;
      this.feed.output([
        {
          stream: 'compile',
          data: `language "${this.job.language}" is not available: ${err.message}\n`,
        },
      ]);
      this.deps.logger.warn({ msg: `language unavailable: ${err.message}`, runId: this.runId });
      return;
    }
    this.outcome.protocolError = true;
    this.deps.metrics.error('engine');
    this.deps.logger.error({
      msg: 'system error',
      runId: this.runId,
      err: (err as Error).stack ?? String(err),
    });
  }

  /**
   * Step 5: judges the run and announces its end (claim, live state, slot, `run:finished`: one
   * atomic round trip, after every chunk of the run). Redis errors are retried with the same
   * claim, so an end that was claimed is always announced (or, past FINISH_RETRY_MS, left to the
   * reconciler, which also writes a result MongoDB missed). `announced` is false when somebody
   * else (a cancel, the reaper) ended the run first, or the announcement was given up: then
   * nothing is to be stored.
   */
  async finish(): Promise<{ result: RunResult; announced: boolean }> {
    this.to('finished');
    this.stopClocks();
    this.out?.end();
    const timeMs =
      this.runStartedAt && this.runEndedAt
        ? Math.max(0, Math.round(this.runEndedAt - this.runStartedAt))
        : 0;
    const sub = this.submission;
    const tests = sub?.tests() ?? [];
    const result: RunResult = sub
      ? {
          ...judgeSubmission(this.outcome, sub),
          // A submission's time is its slowest test's.
          timeMs: tests.reduce((n, t) => Math.max(n, t.timeMs), 0),
          memoryKb: this.outcome.memoryKb ?? null,
          truncated: tests.some((t) => t.verdict === 'OLE'),
        }
      : {
          ...judge(this.outcome),
          timeMs,
          memoryKb: this.outcome.memoryKb ?? null,
          truncated: this.out?.truncated ?? false,
        };
    this.result = result;
    const claimer = `worker:${this.deps.config.instance}`;
    // One end time for the live state (run:finished's readers) and the stored run.
    const finishedAt = new Date();
    const deadline = Date.now() + FINISH_RETRY_MS;
    let ours: boolean;
    for (let wait = 50; ; wait = Math.min(wait * 2, 5000)) {
      try {
        ours = await this.feed.finish(result, claimer, finishedAt);
        break;
      } catch (err) {
        this.deps.metrics.error('finish');
        const giveUp = Date.now() + wait > deadline;
        this.deps.logger.error({
          msg: `cannot announce the end: ${(err as Error).message}`,
          runId: this.runId,
          retry: !giveUp,
        });
        if (giveUp) return { result, announced: false };
        await sleep(wait);
      }
    }
    if (!ours) return { result, announced: false };
    this.lifecycle.to('finished');
    this.finishedAt = finishedAt;
    traceRun('worker-announced', this.runId);
    return { result, announced: true };
  }

  /** After an announced `finish`: the stored copy in MongoDB (after the start record, if any). */
  async store(): Promise<void> {
    if (this.state !== 'finished' || !this.result || !this.finishedAt) {
      throw new Error(`run ${this.runId}: store before an announced finish`);
    }
    await this.started; // both are upserts: the end must land after the start
    try {
      await this.deps.runs.finish(
        this.runId,
        this.result,
        this.feed.sent,
        this.startedAt,
        this.finishedAt,
        this.createdDocument,
      );
      traceRun('worker-stored', this.runId);
    } catch (err) {
      // The live result is out (and in Redis, from which the reconciler repairs the stored copy).
      this.deps.logger.error(`run ${this.runId}: cannot store result: ${(err as Error).message}`);
    }
  }

  /**
   * Last, whatever happened (call it in `finally`): stops clocks and listeners, hands the sandbox
   * to the janitor (after the result is out: removal takes tens of ms nobody should wait for)
   * and clears the running mark.
   */
  async cleanUp(): Promise<void> {
    if (this.state === 'cleaned') throw new Error(`run ${this.runId}: cleaned up twice`);
    this.state = 'cleaned';
    this.stopClocks();
    this.stopListening();
    this.stopInput();
    this.printed();
    // A slot is given back only after a run that ended in a known way (slot-pool.service.ts).
    const o = this.outcome;
    this.sandbox?.release(!o.protocolError && !o.exitUnknown && !o.oomKilled && !!this.runEndedAt);
    // Reserved during the check and never used (the check said no, or a step before failed).
    void this.reserved?.then((unused) => unused.giveBack()).catch(() => undefined);
    this.reserved = null;
    if (this.marked) {
      await this.marked;
      await this.deps.feeds.unmarkRunning(this.runId).catch((err: Error) => {
        this.deps.logger.warn(`run ${this.runId}: cannot clear its running mark: ${err.message}`);
      });
    }
  }

  private to(next: SandboxRunState): void {
    if (!NEXT[this.state].includes(next)) {
      throw new Error(`run ${this.runId}: step ${this.state} -> ${next} is not allowed`);
    }
    this.state = next;
  }

  /** SANDBOX_START_MS: past it a hung engine ends the run as SE; a late sandbox is removed. */
  private get startMs(): number {
    return this.deps.config.sandboxStartMs;
  }

  /**
   * The first reason wins (a cancel stays a cancel even if the clock runs out meanwhile), but
   * every call kills: a reason recorded before the container existed must not stop the kill.
   */
  private kill(reason: NonNullable<RunOutcome['killedFor']>): void {
    // The program already ended by itself: a late cancel or timer changes nothing.
    if (this.runEndedAt) return;
    this.outcome.killedFor ??= reason;
    if (!this.sandbox) return;
    this.sandbox.kill();
    this.killDeadline ??= setTimeout(
      () => this.giveUp(new SandboxStuck(`no exit ${ENGINE_GRACE_MS} ms after the kill`)),
      ENGINE_GRACE_MS,
    );
  }

  private startRunPhase(): void {
    this.runStartedAt = performance.now();
    this.feed.status(this.lifecycle.to('running'), new Date());
    this.clearTimer();
    this.timer = setTimeout(() => this.kill('TLE'), this.limits.wallMs);
    this.cpu!.begin('run', this.limits.cpuMs);
  }

  /** The runner's stdout (compile report, then the program's output) and stderr, to the feed. */
  private wireOutput(): void {
    const { runId, io, parser } = this;
    const tookAt = performance.now();
    let firstOutput = true;
    const out = new OutputCoalescer(
      { limitBytes: this.limits.outputBytes, maxChunk: 4096, flushMs: 15 },
      (parts) => {
        if (firstOutput && parts.some((p) => p.stream !== 'compile')) {
          traceRun('worker-first-output', runId);
          firstOutput = false;
          this.deps.metrics.firstOutputAfter(this.job.language, performance.now() - tookAt);
        }
        this.feed.output(parts);
      },
      // A submission's published output (compile, visible tests) is only cut at the limit; its
      // tests' own output limits are the runner's.
      () => (this.submission ? undefined : this.kill('OLE')),
    );
    this.out = out;
    const tests = this.submission !== null;
    let traced = false;
    const firstBytes = (): void => {
      if (!traced) traceRun('worker-first-bytes', runId);
      traced = true;
      this.printed();
    };
    io.onStdout(firstBytes);
    io.onStderr(firstBytes);
    io.onStdout((data) => {
      for (const e of parser.push(data)) {
        switch (e.type) {
          case 'compile-output':
            out.push('compile', e.data);
            break;
          case 'compiled':
            out.flush(); // compile output goes out before anything the program prints
            this.compiled(e.exitCode);
            break;
          case 'program-output':
            // Tests mode: nothing but frames counts after the compile report.
            if (!tests) out.push('stdout', e.data);
            break;
          case 'test-result':
            this.testFinished(e.frame);
            break;
          default: {
            const never: never = e;
            throw new Error(`unknown runner event ${JSON.stringify(never)}`);
          }
        }
      }
    });
    // Tests mode: the sandbox's own stderr is the runner's, and a program can reach it (through
    // /proc/1/fd/2) during a hidden test: never published. Each test's stderr comes in its frame.
    io.onStderr((data) => (tests ? undefined : out.push('stderr', data)));
  }

  /** The runner's compile report: the run stage begins (or, interpreted, the program starts). */
  private compiled(exitCode: number): void {
    // A header after the program already ended (a broken runner) changes nothing.
    if (this.runEndedAt || this.lifecycle.status === 'finished') return;
    this.outcome.compileExit = exitCode;
    if (this.submission) {
      if (exitCode === 0) this.startTests();
    } else if (!this.language.compile) {
      this.runStartedAt = performance.now(); // the program starts now
    } else if (exitCode === 0) this.startRunPhase();
  }

  /** Submit mode: compiled; the tests begin (the runner enforces each test's limits). */
  private startTests(): void {
    this.clearTimer();
    if (this.cpu!.end() === 'compile') return this.kill('CPU'); // over its budget: CE
    this.runStartedAt = performance.now();
    this.feed.status(this.lifecycle.to('running'), new Date());
    this.sendNextTest();
  }

  /** The next test to the runner, with the worker's own clock behind the runner's; or END. */
  private sendNextTest(): void {
    this.clearTimer();
    const order = this.submission!.take();
    if (!order) {
      this.io.write(RUNNER_END);
      this.io.closeStdin();
      return;
    }
    this.testStartedAt = performance.now();
    this.io.write(encodeRunnerTest({ ...order, stdin: order.test.stdin }));
    this.timer = setTimeout(() => this.kill('TLE'), order.wallMs + TEST_GRACE_MS);
  }

  /**
   * A test's frame: its verdict is published (`run:test`), after its output when it is a visible
   * test (a hidden test's output is checked and dropped), then the next test goes out.
   */
  private testFinished(frame: TestFrame): void {
    const sub = this.submission!;
    const test = sub.current;
    if (!test || this.runEndedAt) {
      // No test was waiting for it (a runner that broke, or a frame a program forged): nothing
      // of it is published, and the run ends as SE.
      this.unexpectedFrame = true;
      return;
    }
    if (!test.hidden) {
      this.out!.push('stdout', frame.stdout);
      this.out!.push('stderr', frame.stderr);
      this.out!.flush();
    }
    this.feed.test(sub.finished(frame));
    this.sendNextTest();
  }

  /**
   * Submit mode, after the exit: a test that never reported, stopped by the worker's clock (TLE)
   * or with the sandbox out of memory (MLE), gets that verdict; otherwise it stays without one
   * (the run is SE).
   */
  private abandonTest(): void {
    const sub = this.submission;
    if (!sub?.current) return;
    const verdict =
      this.outcome.killedFor === 'TLE' ? 'TLE' : this.outcome.oomKilled ? 'MLE' : null;
    if (!verdict) return;
    const timeMs = Math.round(this.runEndedAt - this.testStartedAt);
    const event = sub.abandoned(verdict, Math.max(0, timeMs));
    if (event) this.feed.test(event);
  }

  /**
   * Interactive runs: writes the owner's `run:input` messages to the program's stdin, in order,
   * each exactly once, including those sent before the sandbox started (they wait in Redis).
   * A program blocked on input is still bound by the wall-clock timer.
   */
  private pumpInput(): () => void {
    const { runId, io } = this;
    const feeds = this.deps.feeds;
    let consumed = 0;
    let chain = Promise.resolve();
    const pump = (): void => {
      chain = chain
        .then(async () => {
          const items = await feeds.readInput(runId, consumed);
          consumed += items.length;
          for (const item of items) {
            if (item.data) io.write(item.data);
            if (item.eof) io.closeStdin();
          }
        })
        .catch((err: Error) => this.deps.logger.warn({ msg: `stdin: ${err.message}`, runId }));
    };
    const stop = feeds.onInput(runId, pump); // listen first, then read: nothing is missed
    pump();
    return stop;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private stopClocks(): void {
    this.clearTimer();
    if (this.killDeadline) clearTimeout(this.killDeadline);
    if (this.markRunning) clearTimeout(this.markRunning);
    this.cpu?.stop();
  }
}

/** The sandbox a run of this language and mode gets (what its pool is keyed by). */
export function sandboxSpec(
  config: WorkerConfig,
  language: LanguageDefinition,
  mode: RunJob['mode'],
  submit?: RunJob['submit'],
): Omit<SandboxSpec, 'labels'> {
  const limits = limitsFor(config, language, mode);
  // A submission's tests may have their own CPU time and memory (the problem's).
  if (mode === 'submit' && submit) {
    limits.cpuMs = submit.cpuMs ?? limits.cpuMs;
    limits.memoryMb = submit.memoryMb ?? limits.memoryMb;
  }
  return {
    image: sandboxImage(config, language),
    memoryMb: limits.memoryMb,
    cpus: limits.cpus,
    pids: limits.pids,
    tmpfsMb: limits.tmpfsMb,
    fileSizeMb: limits.fileSizeMb,
    openFiles: limits.openFiles,
    // One value for compile and run (the kernel cannot tell them apart), a second above
    // the budget: the worker's own check ends a stage first where it can measure.
    cpuSeconds: Math.ceil(Math.max(limits.cpuMs, limits.compileCpuMs) / 1000) + 1,
  };
}

/** The run's limits: the worker's, a language's overrides, and submit mode's longer clock. */
function limitsFor(
  config: WorkerConfig,
  language: LanguageDefinition,
  mode: RunJob['mode'],
): RunLimits {
  return languageLimits(language, config.limits, mode);
}

/** The job's language cannot run on this worker (no image, or not installed): CE, never SE. */
class LanguageUnavailable extends Error {}

/** A cancel arrived while the container was being created: it is never started. */
class CancelledBeforeStart extends Error {}

/** Docker did not report the sandbox's exit (or state) in time: the run ends as SE. */
class SandboxStuck extends Error {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** A Docker call that has not answered in `ms` ends the run as SE. */
function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  return deadline(p, ms, () => new SandboxStuck(`no answer from Docker in ${ms} ms`));
}
