import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Default location of the language definitions: <repo>/sandbox/languages. */
const defaultLanguagesDir = fileURLToPath(
  new URL('../../../../sandbox/languages', import.meta.url),
);

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
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
  RUN_RETENTION_DAYS: z.coerce.number().positive().default(30),
  /** Seconds the Redis replay log of a run is kept after its last chunk. */
  REPLAY_TTL_SECONDS: z.coerce.number().int().positive().default(3600),
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
}

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

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
  };
}
