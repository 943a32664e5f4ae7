import { Injectable } from '@nestjs/common';
import {
  redisKeys,
  releaseRunSlots,
  type LiveRunStatus,
  type OutputChunk,
  type RunResult,
  type RunTestEvent,
} from '@coderoom/contracts';
import type { OutputPart } from '../services/output-coalescer.js';
import { ALIVE_TTL_MS, RedisRepository, type RunningEntry } from './redis.repository.js';

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
  }

  output(parts: OutputPart[]): void {
    const key = redisKeys.log(this.runId);
    for (const part of parts) {
      const chunk: OutputChunk = { runId: this.runId, seq: ++this.seq, ...part };
      this.chunks.push(chunk);
      this.track(
        this.redis.client
          .multi()
          .rpush(key, JSON.stringify(chunk))
          .hset(redisKeys.state(this.runId), 'lastSeq', chunk.seq)
          .expire(key, this.ttl)
          .expire(redisKeys.state(this.runId), this.ttl)
          .exec(),
      );
      this.redis.publish({ kind: 'run:output', event: chunk });
    }
  }

  /**
   * A test case's verdict (submit mode): published after the output sent before it, on the same
   * connection. Not in the replay log: the result's `tests` carries them all in the end.
   */
  test(event: RunTestEvent): void {
    this.redis.publish({ kind: 'run:test', event });
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
    return r !== 'lost';
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
  }

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
  constructor(private readonly redis: RedisRepository) {}

  open(runId: string, ownerId: string): RunFeedWriter {
    return new RunFeedWriter(this.redis, runId, ownerId, this.redis.config.replayTtlSeconds);
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
