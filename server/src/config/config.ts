import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ROLES, type Role } from '@coderoom/contracts';

/** Default location of the language definitions: <repo>/sandbox/languages. */
const defaultLanguagesDir = fileURLToPath(
  new URL('../../../../sandbox/languages', import.meta.url),
);

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const envSchema = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  REDIS_URL: z.string().url(),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI'),
  JWT_SECRET: z.string().min(16, 'must be at least 16 characters'),
  DEV_TOKENS: bool.default(false),
  STATIC_DIR: z.string().optional(),
  LANGUAGES_DIR: z.string().default(defaultLanguagesDir),
  /** Days a run document is kept in the database (TTL index). */
  RUN_RETENTION_DAYS: z.coerce.number().positive().max(3650).default(30),
  /** Seconds the Redis replay log of a run is kept after its last chunk. */
  REPLAY_TTL_SECONDS: z.coerce.number().int().positive().default(3600),
  /** Per-role run quotas as JSON, merged over the defaults, e.g. {"student":{"perMinute":10}}. */
  RUN_QUOTAS: z.string().default('{}'),
  /** New runs are refused with BUSY when the expected queue wait exceeds this. */
  BUSY_WAIT_MS: z.coerce.number().int().min(100).default(5000),
  /** Events per second one socket may send on average (token bucket)... */
  SOCKET_EVENTS_PER_SECOND: z.coerce.number().positive().default(20),
  /** ...and in one burst. */
  SOCKET_EVENT_BURST: z.coerce.number().int().min(1).default(40),
  /** Longest `POST /api/runs?wait=true` waits for the result before answering with the run so far. */
  HTTP_WAIT_MS: z.coerce.number().int().min(1000).max(600_000).default(60_000),
  /** Lifetime of tokens issued by the dev-token route. */
  DEV_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(12 * 3600),
});

export interface GatewayConfig {
  port: number;
  host: string;
  redisUrl: string;
  mongodbUri: string;
  jwtSecret: string;
  devTokens: boolean;
  staticDir: string | undefined;
  languagesDir: string;
  runRetentionDays: number;
  replayTtlSeconds: number;
  devTokenTtlSeconds: number;
  quotas: Record<Role, RunQuota>;
  busyWaitMs: number;
  socketEventsPerSecond: number;
  socketEventBurst: number;
  httpWaitMs: number;
}

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

export interface RunQuota {
  /** Runs started per calendar minute. */
  perMinute: number;
  /** Runs started per UTC day. */
  perDay: number;
  /** Runs queued or running at once. */
  concurrent: number;
}

const DEFAULT_QUOTAS: Record<Role, RunQuota> = {
  student: { perMinute: 30, perDay: 2000, concurrent: 3 },
  instructor: { perMinute: 120, perDay: 20_000, concurrent: 10 },
  admin: { perMinute: 600, perDay: 200_000, concurrent: 50 },
};

const quotaOverrides = z.partialRecord(
  z.enum(ROLES),
  z
    .object({
      perMinute: z.number().int().positive(),
      perDay: z.number().int().positive(),
      concurrent: z.number().int().positive(),
    })
    .partial()
    .strict(),
);

function parseQuotas(json: string): Record<Role, RunQuota> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('Invalid gateway configuration:\n  RUN_QUOTAS: not valid JSON');
  }
  const parsed = quotaOverrides.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `  RUN_QUOTAS.${i.path.join('.')}: ${i.message}`,
    );
    throw new Error(`Invalid gateway configuration:\n${problems.join('\n')}`);
  }
  const out = { ...DEFAULT_QUOTAS };
  for (const role of ROLES) out[role] = { ...DEFAULT_QUOTAS[role], ...parsed.data[role] };
  return out;
}

/** Reads the environment once; a bad or missing variable stops start-up with a list of problems. */
export function loadGatewayConfig(env: NodeJS.ProcessEnv): GatewayConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid gateway configuration:\n${problems.join('\n')}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    mongodbUri: e.MONGODB_URI,
    jwtSecret: e.JWT_SECRET,
    devTokens: e.DEV_TOKENS,
    staticDir: e.STATIC_DIR,
    languagesDir: e.LANGUAGES_DIR,
    runRetentionDays: e.RUN_RETENTION_DAYS,
    replayTtlSeconds: e.REPLAY_TTL_SECONDS,
    devTokenTtlSeconds: e.DEV_TOKEN_TTL_SECONDS,
    quotas: parseQuotas(e.RUN_QUOTAS),
    busyWaitMs: e.BUSY_WAIT_MS,
    socketEventsPerSecond: e.SOCKET_EVENTS_PER_SECOND,
    socketEventBurst: e.SOCKET_EVENT_BURST,
    httpWaitMs: e.HTTP_WAIT_MS,
  };
}
