import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  languageLimits,
  type LanguageDefinition,
  type RunJob,
  type RunResult,
} from '@coderoom/contracts';
import { traceRun } from '@coderoom/platform';
import { WORKER_CONFIG, type RunLimits, type WorkerConfig } from '../config/config.js';
import {
  DockerRepository,
  LABEL_RUN,
  LABEL_WORKER,
  type SandboxIo,
  type SandboxSpec,
} from '../repositories/docker.repository.js';
import { LanguageRepository } from '../repositories/language.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { RunFeedRepository, type RunFeedWriter } from '../repositories/run-feed.repository.js';
import { RunRepository } from '../repositories/run.repository.js';
import { CpuBudget } from './cpu-budget.js';
import { withDeadline as deadline } from './deadline.js';
import { OutputCoalescer } from './output-coalescer.js';
import { SandboxJanitorService } from './sandbox-janitor.service.js';
import { StartupGateService } from './startup-gate.service.js';
import { DockerWatchService } from './docker-watch.service.js';
import { WarmPoolService } from './warm-pool.service.js';
import { RunLifecycle } from './run-lifecycle.js';
import { RunnerStdoutParser, encodeRunnerInput } from './runner-protocol.js';
import { judge, type RunOutcome } from './verdict.js';

/** How long after exit we wait for Docker to deliver the last output bytes. */
const DRAIN_MS = 2000;
/**
 * How long Docker may take to report the exit after a kill, or to answer the inspect after the
 * exit. Past it the run ends as SE and the janitor keeps trying to remove the sandbox.
 */
const ENGINE_GRACE_MS = 5000;
/**
 * How long getting a sandbox may take (a pooled one, or create, attach and start), unless
 * SANDBOX_START_MS says otherwise: past it a hung Docker engine ends the run as SE instead of
 * holding its slot for ever. A sandbox that arrives later is removed.
 */
export const SANDBOX_START_MS = 30_000;
/** How long the end of a run is retried while Redis refuses it (then the reconciler ends it). */
const FINISH_RETRY_MS = 60_000;
/**
 * Results being stored beyond these hold the next run's slot (MongoDB is slower than the runs):
 * their output is in memory until stored, so the bound is mostly in bytes.
 */
const STORES_IN_FLIGHT = 256;
const STORE_BYTES_IN_FLIGHT = 32 * 1024 * 1024;
/**
 * A run still going after this long is marked `running` in MongoDB; a shorter one is written
 * once, when it ends (with its start time). Its live state in Redis says `running` from the
 * start, and that is what readers get while a run is live (server: RunService.load).
 */
const MARK_RUNNING_AFTER_MS = 1000;

/**
 * Runs one program in one fresh sandbox: queued -> (compiling) -> running -> finished.
 * Every overrun becomes a verdict, and `run:finished` is announced exactly once whatever happens
 * (SE when the engine itself failed), as soon as the program has exited and its output drained.
 * Then, outside the job's slot: the result is stored in MongoDB, and the used sandbox is handed
 * to the janitor for removal (in `finally`).
 */
@Injectable()
export class RunExecutionService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RunExecutionService.name);
  /** Runs being executed now. */
  private executing = 0;
  /** MongoDB writes of announced results, still in flight, and their output's size. */
  private readonly storing = new Map<Promise<void>, number>();
  private storingBytes = 0;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly docker: DockerRepository,
    private readonly languages: LanguageRepository,
    private readonly feeds: RunFeedRepository,
    private readonly runs: RunRepository,
    private readonly metrics: MetricsRepository,
    private readonly janitor: SandboxJanitorService,
    private readonly pool: WarmPoolService,
    private readonly gate: StartupGateService,
    @Optional() private readonly dockerWatch?: DockerWatchService,
  ) {}

  /**
   * Fills the run-mode pools of WARM_POOL_LANGUAGES. An id that is not installed here stops
   * start-up: a typo would otherwise only show as cold first runs.
   */
  onApplicationBootstrap(): void {
    const ids = this.config.warmPoolLanguages;
    const missing = ids.filter((id) => !this.languages.get(id));
    if (missing.length > 0) {
      const installed = this.languages.all().map((l) => l.id);
      throw new Error(
        `WARM_POOL_LANGUAGES: not installed here: ${missing.join(', ')} (installed: ${installed.join(', ')})`,
      );
    }
    if (ids.length > 0 && this.config.warmPoolSize === 0) {
      this.logger.warn('WARM_POOL_LANGUAGES is set but WARM_POOL_SIZE is 0: no pool is filled');
    }
    for (const id of ids) this.pool.prewarm(this.sandboxSpec(this.languages.get(id)!, 'run'));
  }

  /**
   * SIGTERM: the processor's drain waits for the runs in flight; wait for them too and for the
   * MongoDB writes of their results, before the database connection closes.
   */
  async beforeApplicationShutdown(): Promise<void> {
    while (this.executing > 0 || this.storing.size > 0) {
      await Promise.race([new Promise((r) => setTimeout(r, 50)), ...this.storing.keys()]);
    }
  }

  /** The run's result, or null when another worker took it already (it must never run twice). */
  async execute(job: RunJob): Promise<RunResult | null> {
    this.executing++;
    const lifecycle = new RunLifecycle(job.runId);
    const feed = this.feeds.open(job.runId, job.ownerId);
    const outcome: RunOutcome = {
      killedFor: null,
      compileExit: null,
      oomKilled: false,
      exitCode: null,
      protocolError: false,
    };
    let containerId: string | null = null;
    let timer: NodeJS.Timeout | null = null;
    let killDeadline: NodeJS.Timeout | null = null;
    let runStartedAt = 0;
    let runEndedAt = 0;
    let coalescer: OutputCoalescer | null = null;
    let cpu: CpuBudget | null = null;
    let marked: Promise<void> | null = null;
    let started: Promise<void> | null = null;
    let startedAt: Date | null = null;
    let markRunning: NodeJS.Timeout | null = null;
    let stopInput = (): void => undefined;
    let printed = (): void => undefined;

    // Rejects ENGINE_GRACE_MS after the first kill: Docker failed to stop the sandbox.
    let giveUp!: (err: Error) => void;
    const stuck = new Promise<never>((_, reject) => (giveUp = reject));
    stuck.catch(() => undefined);

    // The first reason wins (a cancel stays a cancel even if the clock runs out meanwhile), but
    // every call kills: a reason recorded before the container existed must not stop the kill.
    const kill = (reason: NonNullable<RunOutcome['killedFor']>): void => {
      // The program already ended by itself: a late cancel or timer changes nothing.
      if (runEndedAt) return;
      outcome.killedFor ??= reason;
      if (!containerId) return;
      void this.docker.kill(containerId);
      killDeadline ??= setTimeout(
        () => giveUp(new SandboxStuck(`no exit ${ENGINE_GRACE_MS} ms after the kill`)),
        ENGINE_GRACE_MS,
      );
    };
    // Listening before the check below: a cancel published in between is not missed.
    const stopListening = this.feeds.onCancel(job.runId, () => kill('CANCELLED'));

    try {
      const check = await this.feeds.preRunCheck(job.runId);
      traceRun('worker-checked', job.runId);
      if (check === 'taken') return null;
      if (check === 'cancelled') {
        outcome.killedFor = 'CANCELLED';
        return await this.finish(feed, lifecycle, outcome, 0, false, null, null);
      }
      // Not awaited: the mark (our claim should this worker die) travels while the sandbox
      // starts; a failed one is repeated by the heartbeat.
      marked = this.feeds
        .markRunning(job.runId, {
          workerId: this.config.workerId,
          instance: this.config.instance,
          ownerId: job.ownerId,
        })
        .catch((err: Error) =>
          this.logger.warn(`run ${job.runId}: cannot mark it: ${err.message}`),
        );
      try {
        await this.janitor.ready;
        const language = this.languages.get(job.language);
        if (!language) throw new Error(`language ${job.language} is not installed on this worker`);
        const limits = this.limitsFor(language, job.mode);
        const spec = this.sandboxSpec(language, job.mode);
        // Until it prints (or ends), background Docker work waits for this run (StartupGate).
        printed = this.gate.begin();
        const startMs = this.config.sandboxStartMs ?? SANDBOX_START_MS;
        const taking = this.pool.take(spec);
        const warm = await withDeadline(taking, startMs).catch((err: Error) => {
          void taking.then((late) => late && this.janitor.dispose(late.id)).catch(() => undefined);
          throw err;
        });
        traceRun('worker-sandbox', job.runId);
        let io: SandboxIo;
        let exited: Promise<number>;
        if (warm) {
          ({ io, exited } = warm);
          containerId = warm.id;
        } else {
          const creating = this.docker.create({
            ...spec,
            labels: { [LABEL_RUN]: job.runId, [LABEL_WORKER]: this.config.workerId },
          });
          containerId = await withDeadline(creating, startMs).catch((err: Error) => {
            void creating.then((late) => this.janitor.dispose(late)).catch(() => undefined);
            throw err;
          });
          // From here on the container is ours: `finally` hands it to the janitor.
          io = await withDeadline(this.docker.attach(containerId), startMs);
          exited = this.docker.waitForExit(containerId);
        }
        const sandbox = containerId;
        this.logger.debug({ msg: 'sandbox', runId: job.runId, containerId, warm: !!warm });
        cpu = new CpuBudget(
          () => this.docker.cpuUsageMs(sandbox),
          limits.cpus,
          () => kill('CPU'),
        );
        const budget = cpu;

        const tookAt = performance.now();
        let firstOutput = true;
        const out = new OutputCoalescer(
          { limitBytes: limits.outputBytes, maxChunk: 4096, flushMs: 15 },
          (parts) => {
            if (firstOutput && parts.some((p) => p.stream !== 'compile')) {
              traceRun('worker-first-output', job.runId);
              firstOutput = false;
              this.metrics.firstOutputAfter(job.language, performance.now() - tookAt);
            }
            feed.output(parts);
          },
          () => kill('OLE'),
        );
        coalescer = out;
        const startRunPhase = (): void => {
          runStartedAt = performance.now();
          feed.status(lifecycle.to('running'), new Date());
          if (timer) clearTimeout(timer);
          timer = setTimeout(() => kill('TLE'), limits.wallMs);
          budget.begin('run', limits.cpuMs);
        };
        const parser = new RunnerStdoutParser();
        let traced = false;
        const firstBytes = (): void => {
          if (!traced) traceRun('worker-first-bytes', job.runId);
          traced = true;
          printed();
        };
        io.onStdout(firstBytes);
        io.onStderr(firstBytes);
        this.wireOutput(io, parser, out, (compileExit) => {
          // A header after the program already ended (a broken runner) changes nothing.
          if (runEndedAt || lifecycle.status === 'finished') return;
          outcome.compileExit = compileExit;
          if (!language.compile)
            runStartedAt = performance.now(); // the program starts now
          else if (compileExit === 0) startRunPhase();
        });

        if (!warm) {
          if (outcome.killedFor) throw new CancelledBeforeStart();
          await withDeadline(this.docker.start(containerId), startMs);
        }
        if (outcome.killedFor) kill(outcome.killedFor); // cancelled while starting
        const begun = new Date();
        startedAt = begun;
        // The program first; the clocks start with it, the bookkeeping follows.
        io.write(encodeRunnerInput(language.compile, language.run, job.files));
        traceRun('worker-written', job.runId);
        if (job.stdin) io.write(job.stdin);
        if (job.interactive) stopInput = this.pumpInput(job.runId, io);
        else io.closeStdin();
        if (language.compile) {
          feed.status(lifecycle.to('compiling'), begun);
          timer = setTimeout(() => kill('COMPILE_TIMEOUT'), limits.compileWallMs);
          budget.begin('compile', limits.compileCpuMs);
        } else {
          startRunPhase();
        }
        markRunning = setTimeout(() => {
          started = this.runs.markStarted(job.runId, begun).catch((err: Error) => {
            this.logger.warn(`run ${job.runId}: cannot record start: ${err.message}`);
          });
        }, MARK_RUNNING_AFTER_MS);

        outcome.exitCode = await Promise.race([exited, stuck]);
        runEndedAt = performance.now();
        traceRun('worker-exited', job.runId);
        printed();
        if (timer) clearTimeout(timer);
        await Promise.race([io.ended, sleep(DRAIN_MS)]);
        // What the verdict needs (the CPU account, the OOM state) and the peak memory.
        const cpuExceeded = budget.settle();
        outcome.cpuExceeded = cpuExceeded;
        outcome.memoryKb = this.docker.peakMemoryKb(containerId);
        outcome.oomKilled = await withDeadline(this.docker.oomKilled(containerId), ENGINE_GRACE_MS);
        // We never send SIGTERM (exit 143); a daemon that shuts down does, to every container.
        if (
          outcome.exitCode === 143 &&
          !outcome.killedFor &&
          (await this.dockerWatch?.goingAway())
        ) {
          throw new Error('the Docker engine shut down under the run');
        }
        outcome.protocolError = parser.error !== null;
        if (parser.error) this.logger.error(`run ${job.runId}: ${parser.error}`);
        if (outcome.killedFor === 'COMPILE_TIMEOUT') {
          out.push('compile', Buffer.from(`\ncompilation exceeded ${limits.compileWallMs} ms\n`));
        } else if (cpuExceeded === 'compile') {
          out.push(
            'compile',
            Buffer.from(`\ncompilation exceeded ${limits.compileCpuMs} ms of CPU time\n`),
          );
        }
      } catch (err) {
        if (err instanceof SandboxStuck) outcome.exitUnknown = true;
        if (!(err instanceof CancelledBeforeStart)) {
          // An engine failure (Docker, image, protocol) is the system's fault: verdict SE.
          outcome.protocolError = true;
          this.metrics.error('engine');
          this.logger.error({
            msg: 'system error',
            runId: job.runId,
            err: (err as Error).stack ?? String(err),
          });
        }
      }
      if (timer) clearTimeout(timer);
      if (killDeadline) clearTimeout(killDeadline);
      if (markRunning) clearTimeout(markRunning);
      cpu?.stop();
      coalescer?.end();
      const timeMs =
        runStartedAt && runEndedAt ? Math.max(0, Math.round(runEndedAt - runStartedAt)) : 0;
      return await this.finish(
        feed,
        lifecycle,
        outcome,
        timeMs,
        coalescer?.truncated ?? false,
        started,
        startedAt,
      );
    } finally {
      if (timer) clearTimeout(timer);
      if (killDeadline) clearTimeout(killDeadline);
      if (markRunning) clearTimeout(markRunning);
      cpu?.stop();
      stopListening();
      stopInput();
      printed();
      // After the result is out: removal takes tens of ms nobody should wait for.
      if (containerId) this.janitor.dispose(containerId);
      if (marked) {
        await marked;
        await this.feeds.unmarkRunning(job.runId).catch((err: Error) => {
          this.logger.warn(`run ${job.runId}: cannot clear its running mark: ${err.message}`);
        });
      }
      this.executing--;
    }
  }

  /**
   * Interactive runs: writes the owner's `run:input` messages to the program's stdin, in order,
   * each exactly once, including those sent before the sandbox started (they wait in Redis).
   * A program blocked on input is still bound by the wall-clock timer.
   */
  private pumpInput(runId: string, io: SandboxIo): () => void {
    let consumed = 0;
    let chain = Promise.resolve();
    const pump = (): void => {
      chain = chain
        .then(async () => {
          const items = await this.feeds.readInput(runId, consumed);
          consumed += items.length;
          for (const item of items) {
            if (item.data) io.write(item.data);
            if (item.eof) io.closeStdin();
          }
        })
        .catch((err: Error) => this.logger.warn({ msg: `stdin: ${err.message}`, runId }));
    };
    const stop = this.feeds.onInput(runId, pump); // listen first, then read: nothing is missed
    pump();
    return stop;
  }

  /** The sandbox a run of this language and mode gets (what its pool is keyed by). */
  private sandboxSpec(
    language: LanguageDefinition,
    mode: RunJob['mode'],
  ): Omit<SandboxSpec, 'labels'> {
    const limits = this.limitsFor(language, mode);
    return {
      image: `coderoom-sandbox-${language.image}:${this.config.imageTag}`,
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
  private limitsFor(language: LanguageDefinition, mode: RunJob['mode']): RunLimits {
    return languageLimits(language, this.config.limits, mode);
  }

  private wireOutput(
    io: SandboxIo,
    parser: RunnerStdoutParser,
    out: OutputCoalescer,
    onCompiled: (exitCode: number) => void,
  ): void {
    io.onStdout((data) => {
      for (const e of parser.push(data)) {
        switch (e.type) {
          case 'compile-output':
            out.push('compile', e.data);
            break;
          case 'compiled':
            out.flush(); // compile output goes out before anything the program prints
            onCompiled(e.exitCode);
            break;
          case 'program-output':
            out.push('stdout', e.data);
            break;
          default: {
            const never: never = e;
            throw new Error(`unknown runner event ${JSON.stringify(never)}`);
          }
        }
      }
    });
    io.onStderr((data) => out.push('stderr', data));
  }

  /**
   * Announces the end (claim, live state, slot, `run:finished`: one atomic round trip, after
   * every chunk of the run), then stores it in MongoDB in the background. Redis errors are retried
   * with the same claim, so an end that was claimed is always announced (or, past
   * FINISH_RETRY_MS, left to the reconciler, which also writes a result MongoDB missed).
   */
  private async finish(
    feed: RunFeedWriter,
    lifecycle: RunLifecycle,
    outcome: RunOutcome,
    timeMs: number,
    truncated: boolean,
    started: Promise<void> | null,
    startedAt: Date | null,
  ): Promise<RunResult> {
    const judgement = judge(outcome);
    const result: RunResult = {
      ...judgement,
      timeMs,
      memoryKb: outcome.memoryKb ?? null,
      truncated,
    };
    const claimer = `worker:${this.config.instance}`;
    // One end time for the live state (run:finished's readers) and the stored run.
    const finishedAt = new Date();
    const deadline = Date.now() + FINISH_RETRY_MS;
    let ours: boolean;
    for (let wait = 50; ; wait = Math.min(wait * 2, 5000)) {
      try {
        ours = await feed.finish(result, claimer, finishedAt);
        break;
      } catch (err) {
        this.metrics.error('finish');
        const giveUp = Date.now() + wait > deadline;
        this.logger.error({
          msg: `cannot announce the end: ${(err as Error).message}`,
          runId: feed.runId,
          retry: !giveUp,
        });
        if (giveUp) return result;
        await sleep(wait);
      }
    }
    if (!ours) return result; // somebody else (a cancel, the reaper) ended it first
    lifecycle.to('finished');
    traceRun('worker-announced', feed.runId);
    const store = this.store(feed, result, started, startedAt, finishedAt);
    const bytes = feed.sent.reduce((n, c) => n + c.data.length, 0);
    this.storing.set(store, bytes);
    this.storingBytes += bytes;
    void store.finally(() => {
      this.storing.delete(store);
      this.storingBytes -= bytes;
    });
    while (this.storing.size > STORES_IN_FLIGHT || this.storingBytes > STORE_BYTES_IN_FLIGHT) {
      await Promise.race(this.storing.keys());
    }
    return result;
  }

  private async store(
    feed: RunFeedWriter,
    result: RunResult,
    started: Promise<void> | null,
    startedAt: Date | null,
    finishedAt: Date,
  ): Promise<void> {
    await started; // ordered after the start record, if one was written (both are upserts)
    try {
      await this.runs.finish(feed.runId, result, feed.sent, startedAt, finishedAt);
      traceRun('worker-stored', feed.runId);
    } catch (err) {
      // The live result is out (and in Redis, from which the reconciler repairs the stored copy).
      this.logger.error(`run ${feed.runId}: cannot store result: ${(err as Error).message}`);
    }
  }
}

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
