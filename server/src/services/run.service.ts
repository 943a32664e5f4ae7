import { randomUUID } from 'node:crypto';
import { traceRun } from '@coderoom/platform';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CoderoomError,
  PAYLOAD_LIMITS,
  runStartTooLarge,
  type AuthUser,
  type DashboardRun,
  type LanguageDefinition,
  type LanguageInfo,
  type RunStartRequest,
  type SubmitSpec,
  type OutputChunk,
  type RunResult,
  type RunFeedEvent,
  type RunStartResult,
  type RunSummary,
  type RunWatchResult,
  type SourceFile,
} from '@coderoom/contracts';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { FeedBusRepository } from '../repositories/feed-bus.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { QuotaRepository } from '../repositories/quota.repository.js';
import { QueueRepository } from '../repositories/queue.repository.js';
import { RunLogRepository, type LiveRunState } from '../repositories/run-log.repository.js';
import { RunRepository } from '../repositories/run.repository.js';
import { QueuePositionService } from './queue-position.service.js';
import { RunFeedService, type FeedSink } from './run-feed.service.js';
import { RunStoreService } from './run-store.service.js';
import { runView, type RunView } from './run-view.js';
import { ClassroomBusRepository } from '../repositories/classroom-bus.repository.js';
import { LanguageService } from './language.service.js';
import { ProblemService, maxScoreOf } from './problem.service.js';
import { SessionService } from './session.service.js';

/** Run time assumed for backpressure until workers have reported real ones. */
const ASSUMED_RUN_MS = 1000;

/** Admits runs, cancels them, and answers watches. Never executes code. */
@Injectable()
export class RunService {
  private readonly logger = new Logger(RunService.name);

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly languages: LanguageService,
    private readonly runs: RunRepository,
    private readonly store: RunStoreService,
    private readonly log: RunLogRepository,
    private readonly queue: QueueRepository,
    private readonly feed: RunFeedService,
    private readonly bus: FeedBusRepository,
    private readonly quota: QuotaRepository,
    private readonly positions: QueuePositionService,
    private readonly metrics: MetricsRepository,
    private readonly sessions: SessionService,
    private readonly problems: ProblemService,
    private readonly classroom: ClassroomBusRepository,
  ) {}

  /**
   * The available language (in `version`, default: its default version), or UNSUPPORTED_LANGUAGE
   * (not installed, or its image not built on any live worker: LanguageService).
   */
  language(id: string, version?: string): Promise<LanguageDefinition> {
    return this.languages.require(id, version);
  }

  /** FORBIDDEN unless the user started the run. */
  async requireOwner(user: AuthUser, runId: string): Promise<void> {
    const { run } = await this.load(runId);
    if (run.ownerId !== user.id) {
      throw new CoderoomError('FORBIDDEN', 'only the owner of a run may share it');
    }
  }

  /**
   * What a run's session and mode require before it is admitted: membership of an open
   * session; for a submission, a problem the user may read (in that session, when one is
   * named) and its tests for the job.
   */
  private async classroomChecks(
    user: AuthUser,
    req: RunStartRequest,
  ): Promise<{ submit?: SubmitSpec; maxScore?: number }> {
    if (req.sessionId !== undefined) {
      const { session } = await this.sessions.access(user, req.sessionId);
      this.sessions.requireOpen(session);
      if (req.problemId !== undefined && !session.problemIds.includes(req.problemId)) {
        throw new CoderoomError('NOT_FOUND', `problem ${req.problemId} is not in this session`);
      }
    }
    if ((req.mode ?? 'run') !== 'submit') return {};
    if (req.problemId === undefined) {
      throw new CoderoomError('INVALID', 'invalid payload: problemId', {
        details: [
          { path: 'problemId', message: 'a submission needs the problem it is graded against' },
        ],
      });
    }
    if (req.interactive) {
      throw new CoderoomError('INVALID', 'invalid payload: interactive', {
        details: [{ path: 'interactive', message: 'a submission reads its tests, not run:input' }],
      });
    }
    const problem = await this.problems.load(req.problemId);
    if (!(await this.sessions.problemReader(user, problem._id, problem.authorId))) {
      throw new CoderoomError('NOT_FOUND', `problem ${req.problemId} not found`);
    }
    return {
      submit: this.problems.submitSpec(problem, req.language),
      maxScore: maxScoreOf(problem),
    };
  }

  /** The feed events of every run this node has watchers of reach it here. */
  receiveFeed(e: RunFeedEvent): void {
    this.feed.dispatch(e);
    this.positions.observe(e);
  }

  /** Every available language with the limits the workers apply (LanguageService). */
  listLanguages(): Promise<LanguageInfo[]> {
    return this.languages.list();
  }

  /** Admits a run (`req` is a valid `run:start` payload: see runStartSchema). */
  async start(
    user: AuthUser,
    req: RunStartRequest,
    owner: FeedSink | null,
  ): Promise<RunStartResult> {
    const tooLarge = runStartTooLarge(req);
    if (tooLarge) throw new CoderoomError('TOO_LARGE', tooLarge);
    const language = await this.language(req.language, req.version);
    const { submit, maxScore } = await this.classroomChecks(user, req);
    const files: SourceFile[] = req.files ?? [
      { path: language.fileName, content: req.source ?? '' },
    ];
    const runId = randomUUID();
    traceRun('gateway-received', runId);
    const now = new Date();
    const mode = req.mode ?? 'run';
    const interactive = req.interactive ?? false;
    // The owner listens to the run's feed from before its job exists, so not a single event
    // can be missed; the subscription is made while the admission runs (awaited before the
    // enqueue below) and undone if the run is not admitted. The worker's first events may
    // arrive before this method sends the owner's `queued` (a slot sandbox starts a run within
    // milliseconds of the enqueue): the subscription holds them until that has been sent.
    const listening = owner ? this.feed.subscribe(runId, owner, 0, true) : Promise.resolve();
    listening.catch(() => undefined);
    const refused = <E>(err: E): E => {
      if (owner) this.feed.unsubscribe(runId, owner.id);
      return err;
    };
    // One round trip: backpressure, quotas, fair-share ranks and the run's live state.
    const admission = await this.quota
      .admit({
        runId,
        userId: user.id,
        sessionId: req.sessionId ?? null,
        limits: this.config.quotas[user.role],
        busyWaitMs: this.config.busyWaitMs,
        assumedRunMs: ASSUMED_RUN_MS,
        origin: {
          ownerId: user.id,
          language: language.id,
          mode,
          interactive,
          createdAt: now.toISOString(),
          sessionId: req.sessionId ?? null,
          problemId: req.problemId ?? null,
        },
      })
      .catch((err: unknown) => {
        throw refused(err);
      });
    if (admission.outcome === 'busy') {
      throw refused(
        new CoderoomError('BUSY', 'the run queue is full; try again shortly', {
          retryAfterMs: Math.min(
            60_000,
            Math.max(1000, Math.ceil(admission.expectedWaitMs - this.config.busyWaitMs)),
          ),
          details: { waiting: admission.waiting, expectedWaitMs: admission.expectedWaitMs },
        }),
      );
    }
    if (admission.outcome === 'limited') {
      const q = this.config.quotas[user.role];
      const message = {
        concurrent: `at most ${q.concurrent} runs may be queued or running at once`,
        minute: `at most ${q.perMinute} runs per minute`,
        day: `at most ${q.perDay} runs per day`,
      }[admission.limit];
      throw refused(
        new CoderoomError('RATE_LIMITED', message, {
          retryAfterMs: admission.retryAfterMs,
          details: { limit: admission.limit },
        }),
      );
    }
    traceRun('gateway-admitted', runId);
    const priority = admission.priority;
    let position: number;
    try {
      await listening;
      traceRun('gateway-listening', runId);
      position = await this.queue.enqueue(
        {
          runId,
          ownerId: user.id,
          language: language.id,
          mode,
          files,
          stdin: req.stdin ?? '',
          interactive,
          sessionId: req.sessionId ?? null,
          createdAt: now.toISOString(),
          ...(submit ? { submit } : {}),
        },
        priority,
      );
    } catch (err) {
      if (owner) this.feed.unsubscribe(runId, owner.id);
      await this.quota.release(user.id, runId, true).catch(() => undefined);
      throw err;
    } finally {
      // Not awaited: the queue counts it now (an entry left behind expires in the admission).
      this.quota.enqueued(runId).catch(() => undefined);
    }
    // The document is written now, not awaited (see RunStoreService): the answer depends on
    // Redis alone, whose live state of the run serves reads until the document is there. After
    // the enqueue, so that building and sending it does not delay the run (~1 ms of the
    // gateway's CPU); the worker's writes are upserts that a later insert completes.
    this.store.store({
      _id: runId,
      ownerId: user.id,
      ownerName: user.name,
      language: language.id,
      mode,
      sessionId: req.sessionId ?? null,
      problemId: req.problemId ?? null,
      files,
      stdin: req.stdin ?? '',
      interactive,
      createdAt: now,
      expireAt: new Date(now.getTime() + this.config.runRetentionDays * 86_400_000),
    });
    this.positions.track(runId, position);
    this.positions.enqueued();
    if (req.sessionId !== undefined) {
      const run: DashboardRun = {
        runId,
        userId: user.id,
        language: language.id,
        mode,
        ...(req.problemId !== undefined ? { problemId: req.problemId } : {}),
        ...(maxScore !== undefined ? { maxScore } : {}),
        status: 'queued',
        createdAt: now.toISOString(),
      };
      // The instructors' dashboard, and the member's activity in the session's presence.
      await this.classroom.feed
        .apply(req.sessionId, { kind: 'run', run })
        .catch((err: Error) =>
          this.logger.warn({ msg: `dashboard: ${err.message}`, runId, sessionId: req.sessionId }),
        );
    }
    this.metrics.runAdmitted(language.id);
    this.logger.log({
      msg: 'run admitted',
      runId,
      userId: user.id,
      language: language.id,
      priority,
      position,
    });
    if (owner) {
      owner.send({
        kind: 'run:status',
        event: { runId, status: 'queued', position, at: now.toISOString() },
      });
      this.feed.completeSync(runId, owner.id, 0);
    }
    return { runId, status: 'queued', position };
  }

  /** The run with everything it printed so far (HTTP `GET /api/runs/:id`). */
  async get(user: AuthUser, runId: string): Promise<{ run: RunSummary; output: OutputChunk[] }> {
    const { run, live } = await this.findAllowed(user, runId);
    const lastSeq = live?.lastSeq ?? lastSeqOf(run.output);
    const fromLog = live ? await this.log.backlog(runId, 0, lastSeq) : null;
    const output = fromLog ?? run.output.map((c) => ({ ...c, runId }));
    return { run: this.summarize(run, live, lastSeq), output };
  }

  /**
   * HTTP `POST /api/runs?wait=true`: starts a run and resolves when it finished or `waitMs`
   * passed, whichever is first; the answer is then the run as it stands.
   */
  async startAndWait(
    user: AuthUser,
    req: RunStartRequest,
    waitMs: number,
  ): Promise<{ run: RunSummary; output: OutputChunk[] }> {
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const sink: FeedSink = {
      id: `http:${randomUUID()}`,
      send: (e) => {
        if (e.kind === 'run:finished') finished();
      },
    };
    const { runId } = await this.start(user, req, sink);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([done, new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    } finally {
      clearTimeout(timer);
      this.feed.removeSink(sink.id);
    }
    return this.get(user, runId);
  }

  /** `run:input`: the owner's input for an interactive run, delivered to its stdin in order. */
  async input(user: AuthUser, runId: string, data: string, eof: boolean): Promise<void> {
    const { run, live } = await this.load(runId);
    if (run.ownerId !== user.id)
      throw new CoderoomError('FORBIDDEN', 'only the owner may send input');
    if (!run.interactive) {
      throw new CoderoomError(
        'CONFLICT',
        'the run is not interactive (start it with interactive: true)',
      );
    }
    if ((live?.status ?? run.status) === 'finished' || live?.result) {
      throw new CoderoomError('CONFLICT', 'the run has already finished');
    }
    const pushed = await this.log.pushInput(runId, data, eof, PAYLOAD_LIMITS.inputBytesPerRun);
    if (pushed === 'closed') throw new CoderoomError('CONFLICT', 'stdin was already closed (eof)');
    if (pushed === 'gone') throw new CoderoomError('CONFLICT', 'the run is no longer running');
    if (pushed === 'too-large') {
      throw new CoderoomError(
        'TOO_LARGE',
        `a run takes at most ${PAYLOAD_LIMITS.inputBytesPerRun} bytes of input in total`,
      );
    }
  }

  async cancel(user: AuthUser, runId: string): Promise<void> {
    const { run, live } = await this.findAllowed(user, runId);
    if ((live?.status ?? run.status) === 'finished' || live?.result)
      throw new CoderoomError('CONFLICT', 'the run has already finished');
    await this.log.requestCancel(runId);
    if (await this.queue.removeIfWaiting(runId)) {
      await this.finishHere(runId, run.ownerId, {
        verdict: 'CANCELLED',
        exitCode: null,
        signal: null,
        timeMs: 0,
        memoryKb: null,
        truncated: false,
      });
    }
  }

  /**
   * Subscribes a sink to a run and returns the summary plus every chunk after `afterSeq`.
   * The caller must send the answer and then call `completeWatch`, which releases live events
   * that arrived meanwhile (skipping those already in the backlog).
   */
  async watch(
    user: AuthUser,
    runId: string,
    afterSeq: number,
    sink: FeedSink,
  ): Promise<{ answer: RunWatchResult; deliveredSeq: number }> {
    // Subscribed first (in Redis too), its events held back until completeWatch: whatever is
    // written after the reads below arrives as a live event, so nothing can fall in between.
    try {
      await this.feed.subscribe(runId, sink, afterSeq, true);
      const { run, live } = await this.findAllowed(user, runId);
      const lastSeq = live?.lastSeq ?? lastSeqOf(run.output);
      const fromLog = live ? await this.log.backlog(runId, afterSeq, lastSeq) : null;
      const backlog =
        fromLog ?? run.output.filter((c) => c.seq > afterSeq).map((c) => ({ ...c, runId }));
      const summary = this.summarize(run, live, lastSeq);
      if (summary.status === 'finished') this.feed.unsubscribe(runId, sink.id);
      // A watcher on this node (e.g. after a reconnect) hears the queue move too.
      else if (summary.status === 'queued') this.positions.track(runId, 0);
      return { answer: { run: summary, backlog }, deliveredSeq: lastSeqOf(backlog) || afterSeq };
    } catch (err) {
      this.feed.unsubscribe(runId, sink.id);
      throw err;
    }
  }

  completeWatch(runId: string, sinkId: string, deliveredSeq: number): void {
    this.feed.completeSync(runId, sinkId, deliveredSeq);
  }

  unwatch(runId: string, sinkId: string): void {
    this.feed.unsubscribe(runId, sinkId);
  }

  disconnect(sinkId: string): void {
    this.feed.removeSink(sinkId);
  }

  private async findAllowed(
    user: AuthUser,
    runId: string,
  ): Promise<{ run: RunView; live: LiveRunState | null }> {
    const found = await this.load(runId);
    if (found.run.ownerId === user.id || user.role === 'admin') return found;
    // The instructors of the run's session see every run of it; members see shared runs.
    const sessionId = found.run.sessionId;
    if (sessionId) {
      const role = await this.sessions.access(user, sessionId).then(
        (a) => a.role,
        () => null,
      );
      if (role === 'instructor') return found;
    }
    if (await this.sessions.sharedWith(user, runId)) return found;
    throw new CoderoomError('FORBIDDEN', 'this run belongs to someone else');
  }

  /**
   * A run and its live state, read together. A run just admitted may not be in MongoDB yet
   * (see `start`), and while MongoDB is unreachable a live run is answered from Redis alone.
   */
  private async load(runId: string): Promise<{ run: RunView; live: LiveRunState | null }> {
    const [stored, live] = await Promise.allSettled([this.runs.find(runId), this.log.state(runId)]);
    if (live.status === 'rejected') throw live.reason;
    if (stored.status === 'rejected' && !live.value?.origin) throw stored.reason;
    const run = runView(runId, stored.status === 'fulfilled' ? stored.value : null, live.value);
    if (!run) throw new CoderoomError('NOT_FOUND', `run ${runId} not found`);
    return { run, live: live.value };
  }

  /** Ends a run that no worker holds; the Redis guard keeps `run:finished` to exactly one. */
  private async finishHere(runId: string, ownerId: string, result: RunResult): Promise<void> {
    if (!(await this.log.claimFinish(runId))) return;
    // Past the claim nobody else may announce the end: whatever fails below, announce it.
    try {
      await this.quota.release(ownerId, runId);
      const finishedAt = new Date();
      await this.log.storeResult(runId, result, finishedAt);
      await this.runs.finish(runId, result, [], finishedAt);
    } catch (err) {
      this.logger.error({ msg: `storing the end failed: ${(err as Error).message}`, runId });
    } finally {
      this.bus.publish({ kind: 'run:finished', event: { runId, ...result } });
    }
  }

  private summarize(run: RunView, live: LiveRunState | null, lastSeq: number): RunSummary {
    const result = live?.result ?? run.result;
    return {
      runId: run._id,
      ownerId: run.ownerId,
      language: run.language,
      mode: run.mode,
      status: result ? 'finished' : (live?.status ?? run.status),
      createdAt: run.createdAt.toISOString(),
      startedAt: live?.startedAt ?? run.startedAt?.toISOString() ?? null,
      // The stored copy may not be written yet when run:finished is out (it follows it).
      finishedAt: run.finishedAt?.toISOString() ?? (result ? (live?.finishedAt ?? null) : null),
      lastSeq,
      result: result ?? null,
    };
  }
}

function lastSeqOf(chunks: Pick<OutputChunk, 'seq'>[]): number {
  return chunks.length ? chunks[chunks.length - 1].seq : 0;
}
