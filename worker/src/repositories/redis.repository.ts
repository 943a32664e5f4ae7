import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import {
  redisKeys,
  type OutputChunk,
  type RunFeedEvent,
  type RunLimits,
  type RunResult,
} from '@coderoom/contracts';
import { SUBSCRIBER_OPTIONS } from '@coderoom/platform';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';

/**
 * avg := avg + alpha * (sample - avg) (the first sample sets it), and one more run finished in
 * this second (KEYS[2]): gateways estimate queue waits from both.
 */
const EWMA = `
local old = redis.call('GET', KEYS[1])
local v = tonumber(ARGV[1])
if old then v = tonumber(old) + tonumber(ARGV[2]) * (v - tonumber(old)) end
redis.call('SET', KEYS[1], string.format('%.0f', v), 'EX', 86400)
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 60)
return 1
`;

/**
 * The worker's checks before it starts a run, in one round trip. KEYS: the run's state,
 * finished guard and cancel flag.
 */
const PRE_RUN = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'taken' end
local status = redis.call('HGET', KEYS[1], 'status')
if status and status ~= 'queued' then return 'taken' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'cancelled' end
return 'ok'
`;

/**
 * The end of a run, atomically: claim the finished guard, store the result, free the run's
 * fair-share slots (the owner's and the session's, as `releaseRunSlots` in contracts does),
 * publish run:finished on the run's feed channel. KEYS: finished guard, state, owner's active
 * set. ARGV: claimer token, TTL (s), result JSON, run id, feed channel, message, end time (ISO).
 */
const FINISH = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return 'already' end
if holder then return 'lost' end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('HSET', KEYS[2], 'status', 'finished', 'result', ARGV[3], 'finishedAt', ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[4])
local session = redis.call('HGET', KEYS[2], 'sessionSlots')
if session then redis.call('ZREM', session, ARGV[4]) end
redis.call('SPUBLISH', ARGV[5], ARGV[6])
return 'claimed'
`;

/** How long a worker counts as alive after its last heartbeat. */
export const ALIVE_TTL_MS = 8000;

export interface RunningEntry {
  workerId: string;
  /** Random per worker process: a restarted worker with the same WORKER_ID is another one. */
  instance: string;
  ownerId: string;
}

/**
 * The worker's Redis: one connection for commands and feed publishing (one connection keeps
 * log writes and feed messages in order), one subscribed to cancel requests.
 */
@Injectable()
export class RedisRepository implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisRepository.name);
  readonly client: Redis;
  private readonly sub: Redis;
  private readonly cancelListeners = new Map<string, () => void>();
  private readonly inputListeners = new Map<string, () => void>();
  /** Lua scripts defined on the command connection so far (see `script`). */
  private readonly scripts = new Set<string>();
  /** The runs this process holds, re-marked with every heartbeat (Redis may have restarted). */
  private readonly held = new Map<string, RunningEntry>();

  constructor(@Inject(WORKER_CONFIG) readonly config: WorkerConfig) {
    this.client = this.connect('commands');
    this.sub = this.connect('cancel-sub');
    this.sub.on('message', (channel: string, runId: string) =>
      (channel === redisKeys.stdinChannel ? this.inputListeners : this.cancelListeners).get(
        runId,
      )?.(),
    );
    void this.sub.subscribe(redisKeys.cancelChannel, redisKeys.stdinChannel).catch((err: Error) => {
      this.logger.error(`cannot subscribe to cancel requests: ${err.message}`);
    });
  }

  private connect(role: string): Redis {
    const client = new Redis(this.config.redisUrl, {
      maxRetriesPerRequest: null,
      connectionName: `coderoom-worker-${role}`,
      ...(role === 'cancel-sub' ? SUBSCRIBER_OPTIONS : {}),
    });
    client.on('error', (err: Error) => this.logger.warn(`redis (${role}): ${err.message}`));
    return client;
  }

  /**
   * Sends one feed event to the gateway nodes that watch its run: a sharded pub/sub message on
   * the run's channel, which only those nodes subscribe to (a publish nobody hears costs Redis
   * a lookup). On the command connection, so it follows the log writes issued before it.
   */
  publish(e: RunFeedEvent): void {
    this.publishEncoded(e.event.runId, JSON.stringify(e));
  }

  /** `publish` of a RunFeedEvent already encoded as JSON. */
  publishEncoded(runId: string, json: string): void {
    this.client
      .spublish(redisKeys.feedChannel(runId), json)
      .catch((err: Error) => this.logger.warn(`feed publish: ${err.message}`));
  }

  onCancel(runId: string, listener: () => void): () => void {
    this.cancelListeners.set(runId, listener);
    return () => this.cancelListeners.delete(runId);
  }

  /** Called whenever the owner sent more input for this (interactive) run. */
  onInput(runId: string, listener: () => void): () => void {
    this.inputListeners.set(runId, listener);
    return () => this.inputListeners.delete(runId);
  }

  /** The run's input messages from index `from` on. */
  async readInput(runId: string, from: number): Promise<{ data: string; eof: boolean }[]> {
    const raw = await this.client.lrange(redisKeys.stdin(runId), from, -1);
    return raw.map((r) => JSON.parse(r) as { data: string; eof: boolean });
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  /**
   * Says this process is alive, and marks again every run it holds: after a Redis restart
   * (no persistence) the marks are gone, and the reconciler would take the runs for lost.
   */
  async heartbeat(workerId: string, instance: string, ttlMs: number): Promise<void> {
    const m = this.client.multi().set(redisKeys.workerAlive(workerId), instance, 'PX', ttlMs);
    for (const [runId, entry] of this.held) m.hset(redisKeys.running, runId, JSON.stringify(entry));
    await m.exec();
  }

  /**
   * Tells gateways how many runs this worker takes at once (for queue backpressure), the
   * default limits it applies and the languages whose image it has (for `languages:list` and
   * admission).
   */
  async announceCapacity(
    workerId: string,
    concurrency: number,
    limits: RunLimits,
    languages: string[],
    ttlMs: number,
  ): Promise<void> {
    await this.client
      .multi()
      .set(redisKeys.workerCapacity(workerId), concurrency, 'PX', ttlMs)
      .set(redisKeys.workerLimits(workerId), JSON.stringify(limits), 'PX', ttlMs)
      .set(redisKeys.workerLanguages(workerId), JSON.stringify(languages), 'PX', ttlMs)
      .sadd(redisKeys.workers, workerId)
      .exec();
  }

  /** Folds one run's slot time into the moving average gateways use to estimate queue waits. */
  async recordRunMs(ms: number): Promise<void> {
    const second = Math.floor(Date.now() / 1000);
    await this.client.eval(
      EWMA,
      2,
      redisKeys.runMsAverage,
      redisKeys.runsFinishedIn(second),
      ms,
      0.2,
    );
  }

  /** The instance id of the live process with this WORKER_ID, or null when none is alive. */
  async liveInstance(workerId: string): Promise<string | null> {
    return this.client.get(redisKeys.workerAlive(workerId));
  }

  /**
   * Marks a run as ours and refreshes our heartbeat in the same step: BullMQ may hand us a job
   * before the first periodic heartbeat, and a run must never look orphaned while we hold it.
   */
  async markRunning(runId: string, entry: RunningEntry, aliveTtlMs: number): Promise<void> {
    this.held.set(runId, entry);
    await this.client
      .multi()
      .set(redisKeys.workerAlive(entry.workerId), entry.instance, 'PX', aliveTtlMs)
      .hset(redisKeys.running, runId, JSON.stringify(entry))
      .exec();
  }

  async unmarkRunning(runId: string): Promise<void> {
    this.held.delete(runId);
    await this.client.hdel(redisKeys.running, runId);
  }

  async running(): Promise<Map<string, RunningEntry>> {
    const all = await this.client.hgetall(redisKeys.running);
    return new Map(
      Object.entries(all).map(([runId, json]) => [runId, JSON.parse(json) as RunningEntry]),
    );
  }

  /**
   * Starts watching a run that looks lost, or says since when it has been watched (ms epoch):
   * the reconciler ends a run only when it still looks lost one heartbeat later.
   */
  async suspectSince(runId: string, now: number): Promise<number> {
    const key = redisKeys.suspect(runId);
    const [[, set], [, since]] = (await this.client
      .multi()
      .set(key, now, 'PX', 10 * 60_000, 'NX')
      .get(key)
      .exec()) as [[null, string | null], [null, string]];
    return set === 'OK' ? now : Number(since);
  }

  /** The result stored in the run's live state when it finished, or null. */
  async storedResult(
    runId: string,
  ): Promise<{ result: RunResult; finishedAt: Date | null } | null> {
    const [json, at] = await this.client.hmget(redisKeys.state(runId), 'result', 'finishedAt');
    if (json === null) return null;
    const finishedAt = at === null ? null : new Date(at);
    return {
      result: JSON.parse(json) as RunResult,
      finishedAt: finishedAt && !Number.isNaN(finishedAt.getTime()) ? finishedAt : null,
    };
  }

  /** True for the one worker that may reconcile now (a lease for `ms`). */
  async reconcileLease(instance: string, ms: number): Promise<boolean> {
    const ok = await this.client.set(redisKeys.reconcileLease, instance, 'PX', ms, 'NX');
    return ok === 'OK' || (await this.client.get(redisKeys.reconcileLease)) === instance;
  }

  /**
   * Before a run, in one round trip (a script): 'taken' once a worker took it (status past
   * queued) or it ended (never execute a run twice), 'cancelled' when a cancel came while it
   * waited, else 'ok'.
   */
  async preRunCheck(runId: string): Promise<'ok' | 'taken' | 'cancelled'> {
    const keys = [redisKeys.state(runId), redisKeys.finished(runId), redisKeys.cancel(runId)];
    return (await this.script('coderoomPreRun', PRE_RUN, keys, [])) as 'ok' | 'taken' | 'cancelled';
  }

  /**
   * Ends a run in one atomic step (a script): claims the `finished` guard shared with the
   * gateway's cancel path and the reaper, stores the result in the live state, frees the run's
   * fair-share slots and publishes `run:finished`. Safe to repeat: `token` names the claimer, so
   * a retry after a lost reply neither announces twice nor mistakes its own claim for another's.
   * Sent on the command connection, so it follows every chunk published before it.
   * @returns 'claimed' (announced now), 'already' (by an earlier call with this token), or
   *   'lost' (someone else ended the run)
   */
  async finishRun(
    runId: string,
    ownerId: string,
    result: RunResult,
    token: string,
    ttlSeconds: number,
    finishedAt: Date,
  ): Promise<'claimed' | 'already' | 'lost'> {
    const channel = redisKeys.feedChannel(runId);
    const finished: RunFeedEvent = { kind: 'run:finished', event: { runId, ...result } };
    const message = JSON.stringify(finished);
    const keys = [redisKeys.finished(runId), redisKeys.state(runId), redisKeys.active(ownerId)];
    const args = [
      ...[token, ttlSeconds, JSON.stringify(result), runId, channel, message],
      finishedAt.toISOString(),
    ];
    return (await this.script('coderoomFinish', FINISH, keys, args)) as
      'claimed' | 'already' | 'lost';
  }

  /** Runs a Lua script by its SHA (EVALSHA; ioredis loads it on first use or after a restart). */
  private script(
    name: string,
    lua: string,
    keys: string[],
    args: (string | number)[],
  ): Promise<unknown> {
    if (!this.scripts.has(name)) {
      this.client.defineCommand(name, { numberOfKeys: keys.length, lua });
      this.scripts.add(name);
    }
    const commands = this.client as unknown as Record<
      string,
      (...a: (string | number)[]) => Promise<unknown>
    >;
    return commands[name](...keys, ...args);
  }

  /** The replay log as stored (for a run whose worker died: its output so far). */
  async replayLog(runId: string): Promise<OutputChunk[]> {
    const raw = await this.client.lrange(redisKeys.log(runId), 0, -1);
    return raw.map((r) => JSON.parse(r) as OutputChunk);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.client.quit(), this.sub.quit()]);
  }
}
