import { randomUUID } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEFAULT_RUN_LIMITS as D, type RunLimits } from '@coderoom/contracts';

const defaultLanguagesDir = fileURLToPath(
  new URL('../../../../sandbox/languages', import.meta.url),
);

/** SANDBOX_START_MS's default. */
export const DEFAULT_SANDBOX_START_MS = 30_000;

const defaultSeccompProfile = fileURLToPath(
  new URL('../../../../sandbox/seccomp/coderoom.json', import.meta.url),
);

const defaultSlotSeccompProfile = fileURLToPath(
  new URL('../../../../sandbox/seccomp/coderoom-slot.json', import.meta.url),
);
const defaultSlotSupervisor = fileURLToPath(
  new URL('../../../../sandbox/slot/supervisor.py', import.meta.url),
);

/** Where a run executes (sandbox/slot/README.md): a fresh container, or a reused slot. */
export type SandboxTier = 'container' | 'slot';
const tier = z.enum(['container', 'slot']);

const envSchema = z.object({
  REDIS_URL: z.string().url(),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI'),
  LANGUAGES_DIR: z.string().default(defaultLanguagesDir),
  WORKER_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default(`${hostname()}-${process.pid}`),
  /** Port of the worker's /health, /ready and /metrics (0: a free port is chosen). */
  WORKER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  WORKER_HTTP_HOST: z.string().default('0.0.0.0'),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  DOCKER_SOCKET: z.string().default('/var/run/docker.sock'),
  /** Tag of the sandbox images (coderoom-sandbox-<image>:<tag>). */
  SANDBOX_IMAGE_TAG: z.string().default('latest'),
  /**
   * How often the worker looks again for its languages' images: one built (or removed) after
   * start-up is offered (or withdrawn) within this time plus a heartbeat.
   */
  SANDBOX_IMAGE_SCAN_MS: z.coerce.number().int().min(500).max(3_600_000).default(30_000),
  /** OCI runtime for sandboxes: runc, or runsc (gVisor) when installed. */
  SANDBOX_RUNTIME: z.string().default('runc'),
  /** The seccomp profile of every sandbox (sandbox/seccomp/, generated from Docker's default). */
  SANDBOX_SECCOMP: z.string().default(defaultSeccompProfile),
  /**
   * How long getting a sandbox may take (a pooled one, or create, attach and start): past it a
   * hung Docker engine ends the run as SE instead of holding its slot.
   */
  SANDBOX_START_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(DEFAULT_SANDBOX_START_MS),
  /** The execution tier of every language (SANDBOX_TIER_LANGUAGES overrides it per language). */
  SANDBOX_TIER: tier.default('container'),
  /** Per-language tiers, `id=tier` comma-separated (e.g. `python=slot,java=container`). */
  SANDBOX_TIER_LANGUAGES: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
        .map((p) => p.split('=').map((x) => x.trim())),
    )
    .pipe(
      z.array(z.tuple([z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'a language id'), tier])),
    ),
  /** The seccomp profile of slot containers (our profile plus what bubblewrap needs). */
  SANDBOX_SLOT_SECCOMP: z.string().default(defaultSlotSeccompProfile),
  /** The supervisor a slot runs (sent to it at start). */
  SANDBOX_SLOT_SUPERVISOR: z.string().default(defaultSlotSupervisor),
  /**
   * On AppArmor hosts: the profile slot containers run under (loaded beforehand, e.g.
   * sandbox/slot/apparmor/coderoom-slot); Docker's docker-default denies the mounts bwrap makes.
   * Empty: Docker's choice (docker-default on AppArmor hosts, none elsewhere).
   */
  SANDBOX_SLOT_APPARMOR: z
    .string()
    .regex(/^([A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/, 'an AppArmor profile name')
    .default(''),
  /**
   * A directory on the Docker host (and at the same path here) for the slots' unix sockets: each
   * slot's frames then go straight between this worker and its supervisor instead of through
   * dockerd and the container's shim (~2 ms less per run). Empty: the attach stream. A worker
   * in a container needs the directory bound in at the same path.
   */
  SANDBOX_SLOT_SOCKETS: z
    .string()
    .refine((p) => p === '' || p.startsWith('/'), 'an absolute directory path')
    .default(''),
  /** A slot container is replaced after this many runs (and after any anomaly at once). */
  SLOT_RUNS: z.coerce.number().int().min(1).max(100_000).default(200),
  /** Started sandboxes kept ready per (image, limits); 0 turns the warm pool off. */
  WARM_POOL_SIZE: z.coerce.number().int().min(0).max(64).default(2),
  /** Upper bound on ready sandboxes across all pools of this worker. */
  WARM_POOL_MAX: z.coerce.number().int().min(0).max(512).default(16),
  /**
   * Languages (ids, comma-separated) whose run-mode pool is filled at start-up, so that their
   * first run after a deploy is warm too; other pools fill on their language's first run.
   */
  WARM_POOL_LANGUAGES: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((id) => id.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'a language id'))),
  RUN_WALL_MS: z.coerce.number().int().min(100).max(600_000).default(D.wallMs),
  /**
   * Wall clock and CPU time of a run in submit mode (`mode: "submit"`), per test: judged
   * programs get longer than interactive tries. A job's `submit.wallMs`/`cpuMs` (the problem's)
   * win over these.
   */
  SUBMIT_WALL_MS: z.coerce.number().int().min(100).max(600_000).default(D.submitWallMs),
  SUBMIT_CPU_MS: z.coerce.number().int().min(100).max(600_000).default(D.submitCpuMs),
  COMPILE_WALL_MS: z.coerce.number().int().min(100).max(600_000).default(D.compileWallMs),
  /** CPU time of a run / a compilation, summed over all its processes and threads. */
  RUN_CPU_MS: z.coerce.number().int().min(100).max(600_000).default(D.cpuMs),
  COMPILE_CPU_MS: z.coerce.number().int().min(100).max(600_000).default(D.compileCpuMs),
  RUN_MEMORY_MB: z.coerce.number().int().min(16).max(16_384).default(D.memoryMb),
  RUN_CPUS: z.coerce.number().min(0.1).max(64).default(D.cpus),
  RUN_PIDS: z.coerce.number().int().min(8).max(4096).default(D.pids),
  RUN_TMPFS_MB: z.coerce.number().int().min(1).max(4096).default(D.tmpfsMb),
  /** RLIMIT_FSIZE in MiB; by default the tmpfs size (no file can be larger anyway). */
  RUN_FILE_SIZE_MB: z.coerce.number().int().min(1).max(4096).optional(),
  /** RLIMIT_NOFILE: files, pipes and sockets per process. */
  RUN_OPEN_FILES: z.coerce.number().int().min(16).max(65_536).default(D.openFiles),
  /**
   * stdout+stderr per run. At most 4 MiB: the whole output is stored in one MongoDB document
   * (16 MiB), and each invalid byte becomes a 3-byte U+FFFD there.
   */
  OUTPUT_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(4 * 1024 * 1024)
    .default(D.outputBytes),
  /**
   * Submit mode: stdout + stderr of all tests of a submission together (each test also has the
   * run's OUTPUT_LIMIT_BYTES); past it a test's output is cut and the test is OLE.
   */
  SUBMIT_OUTPUT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  REPLAY_TTL_SECONDS: z.coerce.number().int().positive().default(3600),
});

/** The defaults of a run's limits (a language.json may override some). */
export type { RunLimits };

export interface WorkerConfig {
  redisUrl: string;
  mongodbUri: string;
  languagesDir: string;
  workerId: string;
  /** Random id of this process (WORKER_ID survives restarts; this does not). */
  instance: string;
  concurrency: number;
  httpPort: number;
  httpHost: string;
  dockerSocket: string;
  imageTag: string;
  /** SANDBOX_IMAGE_SCAN_MS. */
  imageScanMs: number;
  runtime: string;
  /** SANDBOX_SECCOMP: path of the seccomp profile (JSON). */
  seccompProfile: string;
  /**
   * SANDBOX_START_MS: how long getting a sandbox (pooled, or created and started) may take; past
   * it a hung Docker engine ends the run as SE instead of holding its slot for ever.
   */
  sandboxStartMs: number;
  /** SANDBOX_TIER. */
  tier: SandboxTier;
  /** SANDBOX_TIER_LANGUAGES: language id -> tier, over `tier`. */
  tierByLanguage: Record<string, SandboxTier>;
  /** SANDBOX_SLOT_SECCOMP, SANDBOX_SLOT_SUPERVISOR: files of the slot tier. */
  slotSeccompProfile: string;
  slotSupervisor: string;
  /** SANDBOX_SLOT_APPARMOR: the slot containers' AppArmor profile, or '' for Docker's choice. */
  slotAppArmor: string;
  /** SANDBOX_SLOT_SOCKETS: where slots' sockets go, or '' for frames over the attach stream. */
  slotSocketDir: string;
  /** SLOT_RUNS: runs per slot container before it is replaced. */
  slotRuns: number;
  warmPoolSize: number;
  warmPoolMax: number;
  /** WARM_POOL_LANGUAGES. */
  warmPoolLanguages: string[];
  limits: RunLimits;
  /** SUBMIT_OUTPUT_BYTES. */
  submitOutputBytes: number;
  replayTtlSeconds: number;
}

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

/** The tier a language's runs execute on. */
export function tierOf(config: WorkerConfig, languageId: string): SandboxTier {
  return config.tierByLanguage[languageId] ?? config.tier;
}

/** Reads the environment once; a bad or missing variable stops start-up with a list of problems. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid worker configuration:\n${problems.join('\n')}`);
  }
  const e = parsed.data;
  // Docker refuses a CPU quota above the host's CPUs: every run would end as SE.
  if (e.RUN_CPUS > availableParallelism()) {
    throw new Error(
      `Invalid worker configuration:\n  RUN_CPUS: ${e.RUN_CPUS} is more than this host's ${availableParallelism()} CPUs`,
    );
  }
  return {
    redisUrl: e.REDIS_URL,
    mongodbUri: e.MONGODB_URI,
    languagesDir: e.LANGUAGES_DIR,
    workerId: e.WORKER_ID,
    instance: randomUUID(),
    concurrency: e.WORKER_CONCURRENCY,
    httpPort: e.WORKER_HTTP_PORT,
    httpHost: e.WORKER_HTTP_HOST,
    dockerSocket: e.DOCKER_SOCKET,
    imageTag: e.SANDBOX_IMAGE_TAG,
    imageScanMs: e.SANDBOX_IMAGE_SCAN_MS,
    runtime: e.SANDBOX_RUNTIME,
    seccompProfile: e.SANDBOX_SECCOMP,
    sandboxStartMs: e.SANDBOX_START_MS,
    tier: e.SANDBOX_TIER,
    tierByLanguage: Object.fromEntries(e.SANDBOX_TIER_LANGUAGES),
    slotSeccompProfile: e.SANDBOX_SLOT_SECCOMP,
    slotSupervisor: e.SANDBOX_SLOT_SUPERVISOR,
    slotAppArmor: e.SANDBOX_SLOT_APPARMOR,
    slotSocketDir: e.SANDBOX_SLOT_SOCKETS,
    slotRuns: e.SLOT_RUNS,
    warmPoolSize: e.WARM_POOL_SIZE,
    warmPoolMax: e.WARM_POOL_MAX,
    warmPoolLanguages: e.WARM_POOL_LANGUAGES,
    limits: {
      wallMs: e.RUN_WALL_MS,
      submitWallMs: e.SUBMIT_WALL_MS,
      submitCpuMs: e.SUBMIT_CPU_MS,
      compileWallMs: e.COMPILE_WALL_MS,
      cpuMs: e.RUN_CPU_MS,
      compileCpuMs: e.COMPILE_CPU_MS,
      memoryMb: e.RUN_MEMORY_MB,
      cpus: e.RUN_CPUS,
      pids: e.RUN_PIDS,
      tmpfsMb: e.RUN_TMPFS_MB,
      fileSizeMb: e.RUN_FILE_SIZE_MB ?? e.RUN_TMPFS_MB,
      openFiles: e.RUN_OPEN_FILES,
      outputBytes: e.OUTPUT_LIMIT_BYTES,
    },
    submitOutputBytes: e.SUBMIT_OUTPUT_BYTES,
    replayTtlSeconds: e.REPLAY_TTL_SECONDS,
  };
}
