import { Injectable, Logger } from '@nestjs/common';
import {
  dashboardTests,
  redisKeys,
  releaseRunSlots,
  type DashboardChange,
  type DashboardRun,
  type LiveRunStatus,
  type RunJob,
  type OutputChunk,
  type RunResult,
  type RunTestEvent,
} from '@coderoom/contracts';
import type { OutputPart } from '../services/output-coalescer.js';
import { SessionFeed } from '@coderoom/platform';
import { ALIVE_TTL_MS, RedisRepository, type RunningEntry } from './redis.repository.js';
import { RunRepository } from './run.repository.js';

/**
 * A run of a classroom session: its status, tests and end also go to the session's dashboard
 * (SessionFeed), and a graded submission's score to the user's progress.
 */
export class SessionRunFeed {
  private readonly logger = new Logger(SessionRunFeed.name);
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly feed: SessionFeed,
    private readonly runs: RunRepository,
    readonly sessionId: string,
    private readonly run: Omit<DashboardRun, 'status'>,
  ) {}

  static of(job: RunJob, feed: SessionFeed, runs: RunRepository): SessionRunFeed | null {
    if (!job.sessionId) return null;
    const maxScore = job.submit?.tests.reduce((n, t) => n + t.points, 0);
    return new SessionRunFeed(feed, runs, job.sessionId, {
      runId: job.runId,
      userId: job.ownerId,
      language: job.language,
      mode: job.mode,
      ...(job.submit ? { problemId: job.submit.problemId } : {}),
      ...(maxScore !== undefined ? { maxScore } : {}),
      createdAt: job.createdAt ?? new Date().toISOString(),
    });
  }

  status(status: LiveRunStatus): void {
    this.apply({ kind: 'run', run: { ...this.run, status } });
  }

  test(test: RunTestEvent): void {
    this.apply({ kind: 'test', userId: this.run.userId, test });
  }

  /** The end: the run's verdict and score, then the user's progress on the problem. */
  finished(result: RunResult): void {
    const score = result.score;
    this.apply({
      kind: 'run',
      run: {
        ...this.run,
        status: 'finished',
        verdict: result.verdict,
        ...(score !== undefined ? { score } : {}),
        ...dashboardTests(result.tests),
      },
    });
    const { problemId, maxScore } = this.run;
    if (this.run.mode !== 'submit' || !problemId || score === undefined || maxScore === undefined) {
      return;
    }
    this.chain = this.chain
      .then(async () => {
        const solved = result.verdict === 'AC' ? new Date() : null;
        const progress = await this.runs.progress.record(
          this.sessionId,
          this.run.userId,
          problemId,
          score,
          maxScore,
          solved,
        );
        await this.feed.apply(this.sessionId, { kind: 'progress', progress });
      })
      .catch((err: Error) =>
        this.logger.error({ msg: `progress: ${err.message}`, runId: this.run.runId }),
      );
  }

  /** Dashboard changes of one run go out in order (one chain), never blocking the run. */
  private apply(change: DashboardChange): void {
    this.chain = this.chain
      .then(() => this.feed.apply(this.sessionId, change))
      .catch((err: Error) =>
        this.logger.warn({ msg: `dashboard: ${err.message}`, runId: this.run.runId }),
      );
  }

  /** Resolves once every change sent so far is out. */
  async flushed(): Promise<void> {
    await this.chain;
  }
}

/**
 * Writes one run's live feed: every chunk gets the next seq, is appended to the replay log and
 * published to the gateways, in that order on one connection, so a gateway that reads the log
 * after hearing of chunk n always finds it there.
 */
export class RunFeedWriter {
  private seq = 0;
  private started = false;
  private readonly chunks: OutputChunk[] = [];
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: RedisRepository,
    readonly runId: string,
    private readonly ownerId: string,
    private readonly ttl: number,
    /** The session's dashboard, for a run of a classroom session. */
    readonly session: SessionRunFeed | null = null,
  ) {}

  /** Everything sent so far (bounded by the run's output limit), for the stored run. */
  get sent(): readonly OutputChunk[] {
    return this.chunks;
  }

  status(status: LiveRunStatus, at: Date): void {
    const fields: Record<string, string> = { status };
    if (status !== 'queued' && !this.started) {
      this.started = true;
      fields.startedAt = at.toISOString();
    }
    this.track(this.redis.client.hset(redisKeys.state(this.runId), fields));
    this.redis.publish({
      kind: 'run:status',
      event: { runId: this.runId, status, at: at.toISOString() },
    });
    this.session?.status(status);
  }

  /**
   * One coalescer flush: its chunks go into the replay log in one transaction, then out on the
   * feed. Each chunk is JSON-encoded once: the feed message wraps the log entry's text.
   */
  output(parts: OutputPart[]): void {
    if (parts.length === 0) return;
    const key = redisKeys.log(this.runId);
    const encoded = parts.map((part) => {
      const chunk: OutputChunk = { runId: this.runId, seq: ++this.seq, ...part };
      this.chunks.push(chunk);
      return JSON.stringify(chunk);
    });
    this.track(
      this.redis.client
        .multi()
        .rpush(key, ...encoded)
        .hset(redisKeys.state(this.runId), 'lastSeq', this.seq)
        .expire(key, this.ttl)
        .expire(redisKeys.state(this.runId), this.ttl)
        .exec(),
    );
    for (const json of encoded) {
      this.redis.publishEncoded(this.runId, `{"kind":"run:output","event":${json}}`);
    }
  }

  /**
   * A test case's verdict (submit mode): published after the output sent before it, on the same
   * connection. Not in the replay log: the result's `tests` carries them all in the end.
   */
  test(event: RunTestEvent): void {
    this.redis.publish({ kind: 'run:test', event });
    this.session?.test(event);
  }

  /** True for exactly one caller per run (worker or gateway): the one that announces the end. */
  async claimFinish(): Promise<boolean> {
    const ok = await this.redis.client.set(
      redisKeys.finished(this.runId),
      '1',
      'EX',
      this.ttl,
      'NX',
    );
    return ok === 'OK';
  }

  /**
   * Claims the end and announces it in one atomic round trip (RedisRepository.finishRun); false
   * when someone else (a cancel, the reaper) ended the run first. Sent after every chunk and
   * status of this run (one connection), so `run:finished` is always its last event.
   */
  async finish(result: RunResult, claimer: string, finishedAt: Date): Promise<boolean> {
    const r = await this.redis.finishRun(
      this.runId,
      this.ownerId,
      result,
      claimer,
      this.ttl,
      finishedAt,
    );
    if (r === 'lost') return false;
    this.session?.finished(result);
    return true;
  }

  async finished(result: RunResult, finishedAt: Date): Promise<void> {
    await this.flushed();
    await this.redis.client
      .multi()
      .hset(redisKeys.state(this.runId), {
        status: 'finished',
        result: JSON.stringify(result),
        finishedAt: finishedAt.toISOString(),
      })
      .expire(redisKeys.state(this.runId), this.ttl)
      // The owner's and the session's fair-share slots (the script is a few lines: EVAL).
      .eval(
        releaseRunSlots.lua,
        releaseRunSlots.numberOfKeys,
        ...releaseRunSlots.args(this.ownerId, this.runId),
      )
      .exec();
    this.redis.publish({ kind: 'run:finished', event: { runId: this.runId, ...result } });
    // Ended by the reaper (no job at hand): the admission's record says whether it had a session.
    const session = this.session ?? (await this.sessionFromState?.(this.runId));
    session?.finished(result);
  }

  /** Set by RunFeedRepository: the session feed of a run known only by its id. */
  sessionFromState?: (runId: string) => Promise<SessionRunFeed | null>;

  /** Waits for every log write issued so far. */
  async flushed(): Promise<void> {
    await this.writes;
  }

  private track(p: Promise<unknown>): void {
    // Failures surface in flushed(); a lost log entry must not lose the live event.
    this.writes = Promise.allSettled([this.writes, p]);
  }
}

@Injectable()
export class RunFeedRepository {
  private readonly sessions: SessionFeed;

  constructor(
    private readonly redis: RedisRepository,
    private readonly runs: RunRepository,
  ) {
    this.sessions = new SessionFeed(redis.client);
  }

  /** A run's feed; with its job, a session's run also feeds the session's dashboard. */
  open(runId: string, ownerId: string, job?: RunJob): RunFeedWriter {
    const session = job ? SessionRunFeed.of(job, this.sessions, this.runs) : null;
    const writer = new RunFeedWriter(
      this.redis,
      runId,
      ownerId,
      this.redis.config.replayTtlSeconds,
      session,
    );
    if (!job) writer.sessionFromState = (id) => this.sessionFromState(id, ownerId);
    return writer;
  }

  /** A run's session feed from what the admission wrote into its live state, if it had one. */
  private async sessionFromState(runId: string, ownerId: string): Promise<SessionRunFeed | null> {
    const [sessionId, language, mode, createdAt] = await this.redis.client.hmget(
      redisKeys.state(runId),
      'sessionId',
      'language',
      'mode',
      'createdAt',
    );
    if (!sessionId) return null;
    const job: RunJob = {
      runId,
      ownerId,
      language: language ?? '',
      mode: mode === 'submit' ? 'submit' : 'run',
      files: [],
      stdin: '',
      interactive: false,
      sessionId,
      ...(createdAt ? { createdAt } : {}),
    };
    return SessionRunFeed.of(job, this.sessions, this.runs);
  }

  onCancel(runId: string, listener: () => void): () => void {
    return this.redis.onCancel(runId, listener);
  }

  onInput(runId: string, listener: () => void): () => void {
    return this.redis.onInput(runId, listener);
  }

  readInput(runId: string, from: number): Promise<{ data: string; eof: boolean }[]> {
    return this.redis.readInput(runId, from);
  }

  markRunning(runId: string, entry: RunningEntry): Promise<void> {
    return this.redis.markRunning(runId, entry, ALIVE_TTL_MS);
  }

  unmarkRunning(runId: string): Promise<void> {
    return this.redis.unmarkRunning(runId);
  }

  /** One round trip before a run: 'taken' (never run it twice), 'cancelled', or 'ok'. */
  preRunCheck(runId: string): Promise<'ok' | 'taken' | 'cancelled'> {
    return this.redis.preRunCheck(runId);
  }
}
