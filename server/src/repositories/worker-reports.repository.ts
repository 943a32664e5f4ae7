import { Injectable, Logger } from '@nestjs/common';
import { redisKeys, runLimitsSchema, strictestLimits, type RunLimits } from '@coderoom/contracts';
import { z } from 'zod';
import { RedisRepository } from './redis.repository.js';

/** How long the gateway reuses what it read (languages:list and run:start ask often). */
const CACHE_MS = 5000;
/** A read does not wait longer for Redis than this (the last known report then). */
const READ_TIMEOUT_MS = 500;

const languageIdsSchema = z.array(z.string());

/** What the live workers report (each with its heartbeat, so a dead worker's report expires). */
export interface WorkerReport {
  /**
   * The default run limits they apply (worker RUN_*, COMPILE_*, SUBMIT_*, OUTPUT_LIMIT_BYTES):
   * with workers that disagree, each limit at its lowest (what any worker guarantees).
   */
  limits: RunLimits;
  /**
   * The language ids whose sandbox image some live worker has (the union), or null when that is
   * unknown: no live worker reports it (none started yet, or all from before the report
   * existed, which refused to start without every image).
   */
  languages: ReadonlySet<string> | null;
}

/**
 * What the live workers publish about themselves, read from Redis: the limits they enforce (so
 * that `languages:list` reports what is enforced, not what the gateway assumes) and the languages
 * they can run (so that a language whose image no worker has is refused at once). With none
 * alive or Redis unreachable: the last known report, else the built-in defaults and every
 * language.
 */
@Injectable()
export class WorkerReportsRepository {
  private readonly logger = new Logger(WorkerReportsRepository.name);
  private known: WorkerReport | null = null;
  private readAt = 0;
  private reading: Promise<WorkerReport> | null = null;
  private warnedDisagreement = false;

  constructor(private readonly redis: RedisRepository) {}

  async current(): Promise<WorkerReport> {
    if (this.known && performance.now() - this.readAt < CACHE_MS) return this.known;
    this.reading ??= this.read().finally(() => (this.reading = null));
    return this.reading;
  }

  private async read(): Promise<WorkerReport> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const client = this.redis.client;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('Redis did not answer')), READ_TIMEOUT_MS);
      });
      const fetch = async (): Promise<[string[], (string | null)[], (string | null)[]]> => {
        const ids = await client.smembers(redisKeys.workers);
        if (ids.length === 0) return [ids, [], []];
        const keys = ids.flatMap((id) => [
          redisKeys.workerLimits(id),
          redisKeys.workerLanguages(id),
        ]);
        const raw = await client.mget(keys);
        return [ids, raw.filter((_, i) => i % 2 === 0), raw.filter((_, i) => i % 2 === 1)];
      };
      const [ids, rawLimits, rawLanguages] = await Promise.race([fetch(), timeout]);
      const all: RunLimits[] = [];
      let languages: Set<string> | null = null;
      let unknownLanguages = false;
      for (const [i, value] of rawLimits.entries()) {
        if (value === null) continue; // not alive, or a worker from before limits were published
        const parsed = runLimitsSchema.safeParse(safeJson(value));
        if (parsed.success) all.push(parsed.data);
        else this.logger.warn(`worker ${ids[i]} published unreadable limits`);
        const own = languageIdsSchema.safeParse(safeJson(rawLanguages[i] ?? 'null'));
        if (!own.success) {
          unknownLanguages = true; // an older worker: it has every image or did not start
          continue;
        }
        languages ??= new Set();
        for (const id of own.data) languages.add(id);
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
      if (all.length > 0 || !this.known) {
        this.known = {
          limits: strictestLimits(all),
          languages: unknownLanguages || all.length === 0 ? null : (languages ?? new Set()),
        };
      }
      this.readAt = performance.now();
    } catch (err) {
      this.logger.warn(`cannot read the workers' reports: ${(err as Error).message}`);
      this.known ??= { limits: strictestLimits([]), languages: null };
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
