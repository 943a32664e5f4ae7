import { Injectable, Logger } from '@nestjs/common';
import { redisKeys, runLimitsSchema, strictestLimits, type RunLimits } from '@coderoom/contracts';
import { RedisRepository } from './redis.repository.js';

/** How long the gateway reuses what it read (languages:list may be asked often). */
const CACHE_MS = 5000;
/** languages:list does not wait longer for Redis than this (the last known values then). */
const READ_TIMEOUT_MS = 500;

/**
 * The default run limits the live workers apply (each publishes its own with its heartbeat,
 * worker RUN_*, COMPILE_*, SUBMIT_*, OUTPUT_LIMIT_BYTES), so that `languages:list` reports what
 * is enforced, not what the gateway assumes. With workers that disagree, each limit at its
 * lowest (what any worker guarantees); with none alive or Redis unreachable, the last known
 * values, else the built-in defaults.
 */
@Injectable()
export class WorkerLimitsRepository {
  private readonly logger = new Logger(WorkerLimitsRepository.name);
  private known: RunLimits | null = null;
  private readAt = 0;
  private reading: Promise<RunLimits> | null = null;
  private warnedDisagreement = false;

  constructor(private readonly redis: RedisRepository) {}

  async current(): Promise<RunLimits> {
    if (this.known && performance.now() - this.readAt < CACHE_MS) return this.known;
    this.reading ??= this.read().finally(() => (this.reading = null));
    return this.reading;
  }

  private async read(): Promise<RunLimits> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const client = this.redis.client;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('Redis did not answer')), READ_TIMEOUT_MS);
      });
      const fetch = async (): Promise<[string[], (string | null)[]]> => {
        const ids = await client.smembers(redisKeys.workers);
        return [
          ids,
          ids.length ? await client.mget(ids.map((id) => redisKeys.workerLimits(id))) : [],
        ];
      };
      const [ids, raw] = await Promise.race([fetch(), timeout]);
      const all: RunLimits[] = [];
      for (const [i, value] of raw.entries()) {
        if (value === null) continue; // not alive, or a worker from before limits were published
        const parsed = runLimitsSchema.safeParse(safeJson(value));
        if (parsed.success) all.push(parsed.data);
        else this.logger.warn(`worker ${ids[i]} published unreadable limits`);
      }
      if (all.length > 1 && !this.warnedDisagreement) {
        const first = JSON.stringify(all[0]);
        if (all.some((l) => JSON.stringify(l) !== first)) {
          this.warnedDisagreement = true;
          this.logger.warn(
            'workers apply different default limits; languages:list reports the lowest of each',
          );
        }
      }
      if (all.length > 0 || !this.known) this.known = strictestLimits(all);
      this.readAt = performance.now();
    } catch (err) {
      this.logger.warn(`cannot read the workers' limits: ${(err as Error).message}`);
      this.known ??= strictestLimits([]);
      this.readAt = performance.now(); // not again at once: Redis is busy or away
    } finally {
      clearTimeout(timer);
    }
    return this.known;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
