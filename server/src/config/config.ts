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
  /** HS256 key (local use, dev tokens). Required unless JWT_JWKS_URL is set. */
  JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * The previous HS256 key while rotating JWT_SECRET: tokens signed with it are still accepted
   * (new ones are signed with JWT_SECRET), so a rotation logs nobody out. Remove it once the
   * longest token lifetime has passed.
   */
  JWT_SECRET_PREVIOUS: z.string().min(16, 'must be at least 16 characters').optional(),
  /** The identity provider's key set (RS256/ES256 tokens), fetched and cached; rotated keys are picked up. */
  JWT_JWKS_URL: z.string().url().optional(),
  /**
   * Least time between two fetches of the key set: a token with an unknown `kid` (a rotated key)
   * refetches it, at most this often, so forged kids cannot make the gateway hammer the provider.
   */
  JWT_JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  /** Required `iss` of every token, when set. */
  JWT_ISSUER: z.string().min(1).optional(),
  /** Required `aud` of every token, when set. */
  JWT_AUDIENCE: z.string().min(1).optional(),
  /** The claim that holds the role (a dot path into the claims, e.g. `realm_access.roles`). */
  JWT_ROLE_CLAIM: z.string().min(1).default('role'),
  /** JSON map from the identity provider's role values to ours, e.g. {"teacher":"instructor"}. */
  JWT_ROLE_MAP: z.string().default('{}'),
  /** The role of a token whose role claim is missing or not in the map; unset: such tokens are refused. */
  JWT_DEFAULT_ROLE: z.enum(ROLES).optional(),
  /** The claim that holds the display name. */
  JWT_NAME_CLAIM: z.string().min(1).default('name'),
  /** A separate port serving only GET /metrics (for Prometheus), unset: none. */
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** When set, GET /metrics on the API port answers requests bearing this token (else 404). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
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
  auth: AuthConfig;
  devTokens: boolean;
  metrics: { port: number | undefined; token: string | undefined };
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

/** How tokens are verified (see services/auth.service.ts). */
export interface AuthConfig {
  /** HS256 key, or undefined when only the identity provider's keys are trusted. */
  secret: string | undefined;
  /** JWT_SECRET_PREVIOUS: still accepted, never used to sign. */
  previousSecret: string | undefined;
  jwksUrl: string | undefined;
  jwksCooldownMs: number;
  issuer: string | undefined;
  audience: string | undefined;
  /** Dot path of the claim holding the role. */
  roleClaim: string;
  /** The provider's role values mapped to ours (values that are our roles map to themselves). */
  roleMap: Record<string, Role>;
  defaultRole: Role | undefined;
  nameClaim: string;
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

/** A JSON-valued variable, checked by `schema`; problems are listed like the others. */
function parseJson<S extends z.ZodType>(name: string, json: string, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error(`Invalid gateway configuration:\n  ${name}: not valid JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      [`  ${name}`, ...i.path.map(String)].join('.').concat(`: ${i.message}`),
    );
    throw new Error(`Invalid gateway configuration:\n${problems.join('\n')}`);
  }
  return parsed.data;
}

function parseQuotas(json: string): Record<Role, RunQuota> {
  const overrides = parseJson('RUN_QUOTAS', json, quotaOverrides);
  const out = { ...DEFAULT_QUOTAS };
  for (const role of ROLES) out[role] = { ...DEFAULT_QUOTAS[role], ...overrides[role] };
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
  const problems: string[] = [];
  if (!e.JWT_SECRET && !e.JWT_JWKS_URL)
    problems.push('  JWT_SECRET: required unless JWT_JWKS_URL is set');
  if (e.DEV_TOKENS && !e.JWT_SECRET)
    problems.push('  DEV_TOKENS: dev tokens are signed with JWT_SECRET, which is not set');
  if (problems.length) throw new Error(`Invalid gateway configuration:\n${problems.join('\n')}`);
  const roleMap: Record<string, Role> = Object.fromEntries(ROLES.map((r) => [r, r]));
  Object.assign(
    roleMap,
    parseJson('JWT_ROLE_MAP', e.JWT_ROLE_MAP, z.record(z.string(), z.enum(ROLES))),
  );
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    mongodbUri: e.MONGODB_URI,
    auth: {
      secret: e.JWT_SECRET,
      previousSecret: e.JWT_SECRET_PREVIOUS,
      jwksUrl: e.JWT_JWKS_URL,
      jwksCooldownMs: e.JWT_JWKS_COOLDOWN_MS,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      roleClaim: e.JWT_ROLE_CLAIM,
      roleMap,
      defaultRole: e.JWT_DEFAULT_ROLE,
      nameClaim: e.JWT_NAME_CLAIM,
    },
    devTokens: e.DEV_TOKENS,
    metrics: { port: e.METRICS_PORT, token: e.METRICS_TOKEN },
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
