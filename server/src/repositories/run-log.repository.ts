import { Inject, Injectable } from '@nestjs/common';
import {
  redisKeys,
  type OutputChunk,
  type RunMode,
  type RunResult,
  type RunStatus,
} from '@coderoom/contracts';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { RedisRepository } from './redis.repository.js';

/**
 * What the admission writes into a run's live state, so that the run can be answered about
 * before MongoDB has its document (the gateway acknowledges first and stores it meanwhile).
 */
export interface RunOrigin {
  ownerId: string;
  language: string;
  mode: RunMode;
  interactive: boolean;
  /** ISO time. */
  createdAt: string;
  sessionId: string | null;
  problemId: string | null;
}

export interface LiveRunState {
  status: RunStatus;
  lastSeq: number;
  startedAt: string | null;
  /** When the run ended (ISO), written with its result. */
  finishedAt: string | null;
  result: RunResult | null;
  /** Null for a state written before admissions recorded it. */
  origin: RunOrigin | null;
}

/** The state hash fields and values of a newly admitted (queued) run. */
export function originFields(o: RunOrigin): string[] {
  return [
    ...['status', 'queued', 'lastSeq', '0', 'ownerId', o.ownerId, 'language', o.language],
    ...['mode', o.mode, 'interactive', o.interactive ? '1' : '0', 'createdAt', o.createdAt],
    ...(o.sessionId ? ['sessionId', o.sessionId] : []),
    ...(o.problemId ? ['problemId', o.problemId] : []),
  ];
}

/** Atomically: refuse after eof or past the byte budget, else append, note eof and signal. */
const PUSH_INPUT = `
if redis.call('EXISTS', KEYS[2]) == 0 then return -3 end
if redis.call('HGET', KEYS[2], 'inputEof') == '1' then return -1 end
local total = redis.call('HINCRBY', KEYS[2], 'inputBytes', ARGV[2])
if total > tonumber(ARGV[3]) then
  redis.call('HINCRBY', KEYS[2], 'inputBytes', -tonumber(ARGV[2]))
  return -2
end
if ARGV[4] == '1' then redis.call('HSET', KEYS[2], 'inputEof', '1') end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
`;

/** The live side of a run in Redis: replay log, state hash, finish guard and cancel signal. */
@Injectable()
export class RunLogRepository {
  constructor(
    private readonly redis: RedisRepository,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async state(runId: string): Promise<LiveRunState | null> {
    const h = await this.redis.client.hgetall(redisKeys.state(runId));
    if (!h.status) return null;
    return {
      status: h.status as RunStatus,
      lastSeq: Number(h.lastSeq ?? 0),
      startedAt: h.startedAt ?? null,
      finishedAt: h.finishedAt ?? null,
      result: h.result ? (JSON.parse(h.result) as RunResult) : null,
      origin: h.ownerId
        ? {
            ownerId: h.ownerId,
            language: h.language,
            mode: h.mode as RunMode,
            interactive: h.interactive === '1',
            createdAt: h.createdAt,
            sessionId: h.sessionId || null,
            problemId: h.problemId || null,
          }
        : null,
    };
  }

  /**
   * Chunks with seq > afterSeq, or null when the log no longer covers them (expired or never
   * written); the caller then falls back to the stored run. Index i of the list normally holds
   * seq i+1.
   */
  async backlog(runId: string, afterSeq: number, lastSeq: number): Promise<OutputChunk[] | null> {
    if (afterSeq >= lastSeq) return [];
    const key = redisKeys.log(runId);
    const parse = (raw: string[]) => raw.map((r) => JSON.parse(r) as OutputChunk);
    const chunks = parse(await this.redis.client.lrange(key, afterSeq, lastSeq - 1));
    if (chunks.every((c, i) => c.seq === afterSeq + 1 + i)) {
      return chunks.length === lastSeq - afterSeq ? chunks : null;
    }
    // A persistent Redis that restarted can hold a chunk twice (the worker's client resends an
    // append whose answer the restart cut off): then find each seq in the whole log.
    const bySeq = new Map(parse(await this.redis.client.lrange(key, 0, -1)).map((c) => [c.seq, c]));
    const found: OutputChunk[] = [];
    for (let seq = afterSeq + 1; seq <= lastSeq; seq++) {
      const c = bySeq.get(seq);
      if (!c) return null;
      found.push(c);
    }
    return found;
  }

  /** True for exactly one caller per run: the one allowed to announce its end. */
  async claimFinish(runId: string): Promise<boolean> {
    const ok = await this.redis.client.set(
      redisKeys.finished(runId),
      '1',
      'EX',
      this.config.replayTtlSeconds,
      'NX',
    );
    return ok === 'OK';
  }

  async storeResult(runId: string, result: RunResult, finishedAt: Date): Promise<void> {
    await this.redis.client
      .multi()
      .hset(redisKeys.state(runId), {
        status: 'finished',
        result: JSON.stringify(result),
        finishedAt: finishedAt.toISOString(),
      })
      .expire(redisKeys.state(runId), this.config.replayTtlSeconds)
      .exec();
  }

  /**
   * Appends interactive input for the worker running the program. Refused once stdin was
   * closed (`eof`), when the run's input would exceed `limitBytes` in total, or when its live
   * state is gone (expired, or lost with Redis: the run is over for us).
   */
  async pushInput(
    runId: string,
    data: string,
    eof: boolean,
    limitBytes: number,
  ): Promise<'ok' | 'closed' | 'too-large' | 'gone'> {
    const r = (await this.redis.client.eval(
      PUSH_INPUT,
      2,
      redisKeys.stdin(runId),
      redisKeys.state(runId),
      JSON.stringify({ data, eof }),
      Buffer.byteLength(data),
      limitBytes,
      eof ? 1 : 0,
      this.config.replayTtlSeconds,
      redisKeys.stdinChannel,
      runId,
    )) as number;
    return r === 1 ? 'ok' : r === -1 ? 'closed' : r === -3 ? 'gone' : 'too-large';
  }

  async requestCancel(runId: string): Promise<void> {
    await this.redis.client.set(redisKeys.cancel(runId), '1', 'EX', this.config.replayTtlSeconds);
    await this.redis.client.publish(redisKeys.cancelChannel, runId);
  }
}
