import { Inject, Injectable, Logger } from '@nestjs/common';
import type { LanguageDefinition, RunJob, RunResult } from '@coderoom/contracts';
import { WORKER_CONFIG, type RunLimits, type WorkerConfig } from '../config/config.js';
import {
  DockerRepository,
  LABEL_RUN,
  LABEL_WORKER,
  type SandboxIo,
} from '../repositories/docker.repository.js';
import { LanguageRepository } from '../repositories/language.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { RunFeedRepository, type RunFeedWriter } from '../repositories/run-feed.repository.js';
import { RunRepository } from '../repositories/run.repository.js';
import { OutputCoalescer } from './output-coalescer.js';
import { SandboxJanitorService } from './sandbox-janitor.service.js';
import { WarmPoolService } from './warm-pool.service.js';
import { RunLifecycle } from './run-lifecycle.js';
import { RunnerStdoutParser, encodeRunnerInput } from './runner-protocol.js';
import { judge, type RunOutcome } from './verdict.js';

/** How long after exit we wait for Docker to deliver the last output bytes. */
const DRAIN_MS = 2000;

/**
 * Runs one program in one fresh sandbox: queued -> (compiling) -> running -> finished.
 * Every overrun becomes a verdict, the container is removed in `finally`, and `run:finished`
 * is announced exactly once whatever happens (SE when the engine itself failed).
 */
@Injectable()
export class RunExecutionService {
  private readonly logger = new Logger(RunExecutionService.name);

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly docker: DockerRepository,
    private readonly languages: LanguageRepository,
    private readonly feeds: RunFeedRepository,
    private readonly runs: RunRepository,
    private readonly metrics: MetricsRepository,
    private readonly janitor: SandboxJanitorService,
    private readonly pool: WarmPoolService,
  ) {}

  async execute(job: RunJob): Promise<RunResult> {
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
    let runStartedAt = 0;
    let runEndedAt = 0;
    let coalescer: OutputCoalescer | null = null;
    let marked = false;
    let stopInput = (): void => undefined;

    // The first reason wins (a cancel stays a cancel even if the clock runs out meanwhile), but
    // every call kills: a reason recorded before the container existed must not stop the kill.
    const kill = (reason: NonNullable<RunOutcome['killedFor']>): void => {
      outcome.killedFor ??= reason;
      if (containerId) void this.docker.kill(containerId);
    };
    const stopListening = this.feeds.onCancel(job.runId, () => kill('CANCELLED'));

    try {
      try {
        if (await this.feeds.cancelRequested(job.runId)) {
          outcome.killedFor = 'CANCELLED';
          return await this.finish(feed, lifecycle, outcome, 0, false);
        }
        await this.feeds.markRunning(job.runId, {
          workerId: this.config.workerId,
          instance: this.config.instance,
          ownerId: job.ownerId,
        });
        marked = true;
        await this.janitor.ready;
        const language = this.languages.get(job.language);
        if (!language) throw new Error(`language ${job.language} is not installed on this worker`);
        const limits = this.limitsFor(language);

        const spec = {
          image: `coderoom-sandbox-${language.image}:${this.config.imageTag}`,
          memoryMb: limits.memoryMb,
          cpus: limits.cpus,
          pids: limits.pids,
          tmpfsMb: limits.tmpfsMb,
        };
        const warm = this.pool.take(spec);
        let io: SandboxIo;
        let exited: Promise<number>;
        if (warm) {
          ({ io, exited } = warm);
          containerId = warm.id;
        } else {
          containerId = await this.docker.create({
            ...spec,
            labels: { [LABEL_RUN]: job.runId, [LABEL_WORKER]: this.config.workerId },
          });
          io = await this.docker.attach(containerId);
          exited = this.docker.waitForExit(containerId);
        }
        this.logger.debug({ msg: 'sandbox', runId: job.runId, containerId, warm: !!warm });

        const tookAt = performance.now();
        let firstOutput = true;
        const out = new OutputCoalescer(
          { limitBytes: limits.outputBytes, maxChunk: 4096, flushMs: 15 },
          (parts) => {
            if (firstOutput && parts.some((p) => p.stream !== 'compile')) {
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
        };
        const parser = new RunnerStdoutParser();
        this.wireOutput(io, parser, out, (compileExit) => {
          // A header after the program already ended (a broken runner) changes nothing.
          if (runEndedAt || lifecycle.status === 'finished') return;
          outcome.compileExit = compileExit;
          if (compileExit === 0) startRunPhase();
        });

        if (!warm) {
          if (outcome.killedFor) throw new CancelledBeforeStart();
          await this.docker.start(containerId);
        }
        if (outcome.killedFor) kill(outcome.killedFor); // cancelled while starting
        const startedAt = new Date();
        void this.runs.markStarted(job.runId, startedAt).catch((err: Error) => {
          this.logger.warn(`run ${job.runId}: cannot record start: ${err.message}`);
        });
        if (language.compile) {
          feed.status(lifecycle.to('compiling'), startedAt);
          timer = setTimeout(() => kill('COMPILE_TIMEOUT'), limits.compileWallMs);
        } else {
          // Re-armed when the runner reports; until then this bounds a runner that never does.
          timer = setTimeout(() => kill('TLE'), limits.wallMs);
        }
        io.write(encodeRunnerInput(language.compile, language.run, job.files));
        if (job.stdin) io.write(job.stdin);
        if (job.interactive) stopInput = this.pumpInput(job.runId, io);
        else io.closeStdin();

        outcome.exitCode = await exited;
        runEndedAt = performance.now();
        if (timer) clearTimeout(timer);
        await Promise.race([io.ended, sleep(DRAIN_MS)]);
        outcome.oomKilled = await this.docker.oomKilled(containerId);
        outcome.memoryKb = await this.docker.peakMemoryKb(containerId);
        outcome.protocolError = parser.error !== null;
        if (parser.error) this.logger.error(`run ${job.runId}: ${parser.error}`);
        if (outcome.killedFor === 'COMPILE_TIMEOUT') {
          out.push('compile', Buffer.from(`\ncompilation exceeded ${limits.compileWallMs} ms\n`));
        }
      } catch (err) {
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
      coalescer?.end();
      const timeMs =
        runStartedAt && runEndedAt ? Math.max(0, Math.round(runEndedAt - runStartedAt)) : 0;
      return await this.finish(feed, lifecycle, outcome, timeMs, coalescer?.truncated ?? false);
    } finally {
      // After the result is out: removal takes ~100 ms nobody should wait for.
      if (timer) clearTimeout(timer);
      stopListening();
      stopInput();
      if (marked) {
        await this.feeds.unmarkRunning(job.runId).catch((err: Error) => {
          this.logger.warn(`run ${job.runId}: cannot clear its running mark: ${err.message}`);
        });
      }
      if (containerId) {
        await this.docker.remove(containerId).catch((err: Error) => {
          this.logger.error(
            `run ${job.runId}: cannot remove container ${containerId}: ${err.message}`,
          );
        });
      }
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

  /** Per-language overrides on top of the worker's defaults. */
  private limitsFor(language: LanguageDefinition): RunLimits {
    const l = this.config.limits;
    return {
      ...l,
      memoryMb: language.limits?.memoryMb ?? l.memoryMb,
      wallMs: language.limits?.wallMs ?? l.wallMs,
      compileWallMs: language.limits?.compileWallMs ?? l.compileWallMs,
      pids: language.limits?.pids ?? l.pids,
    };
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

  private async finish(
    feed: RunFeedWriter,
    lifecycle: RunLifecycle,
    outcome: RunOutcome,
    timeMs: number,
    truncated: boolean,
  ): Promise<RunResult> {
    const judgement = judge(outcome);
    const result: RunResult = {
      ...judgement,
      timeMs,
      memoryKb: outcome.memoryKb ?? null,
      truncated,
    };
    if (!(await feed.claimFinish())) return result; // somebody else (a cancel) ended it first
    lifecycle.to('finished');
    await feed.flushed();
    try {
      await this.runs.finish(feed.runId, result, feed.sent);
    } catch (err) {
      // The live result still goes out; the stored copy is what a later GET would miss.
      this.logger.error(`run ${feed.runId}: cannot store result: ${(err as Error).message}`);
    }
    await feed.finished(result);
    return result;
  }
}

/** A cancel arrived while the container was being created: it is never started. */
class CancelledBeforeStart extends Error {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
