import { z } from 'zod';
import type { LanguageInfo, RunMode } from './runs.js';

/**
 * `sandbox/languages/<id>/language.json`: a language is data. `compile` and `run` are one-line
 * shell commands run by the sandbox runner inside the program's working directory. `run` may
 * instead be the runner's built-in `@python <file>`: the runner, itself a Python 3 process
 * started with the sandbox, runs that file in its own interpreter exactly as
 * `python3 -u <file>` would, without starting another one (sandbox/README.md).
 */
export const languageDefinitionSchema = z.object({
  id: z.string().regex(/^[a-z][a-z0-9.-]*$/),
  name: z.string().min(1),
  /**
   * This definition is another version of the language with that id (e.g. `python-3.11` of
   * `python`): not listed on its own, but in that language's `versions`, and chosen by
   * `run:start { language, version }`. The language's own definition is its default version.
   */
  versionOf: z
    .string()
    .regex(/^[a-z][a-z0-9.-]*$/)
    .optional(),
  version: z.string().min(1),
  fileName: z.string().regex(/^[A-Za-z0-9_.-]+$/),
  image: z.string().regex(/^[a-z0-9-]+$/),
  compile: z.string().min(1).nullable(),
  run: z
    .string()
    .min(1)
    .refine(
      (run) =>
        !run.startsWith('@') ||
        (/^@python [A-Za-z0-9_.-][A-Za-z0-9_./-]*$/.test(run) &&
          !run.slice('@python '.length).split('/').includes('..')),
      { message: 'a built-in run command must be `@python <relative file>`' },
    ),
  /**
   * Per-language overrides of the worker's defaults (RUN_MEMORY_MB, RUN_WALL_MS, COMPILE_WALL_MS,
   * RUN_CPU_MS, COMPILE_CPU_MS, RUN_PIDS), for compile and run alike: e.g. the JVM and Go's
   * compiler need more memory and threads. Unknown keys are refused, so a misspelt limit cannot
   * be silently ignored.
   */
  limits: z
    .strictObject({
      memoryMb: z.number().int().min(16).max(16_384).optional(),
      wallMs: z.number().int().min(100).max(600_000).optional(),
      compileWallMs: z.number().int().min(100).max(600_000).optional(),
      /** CPU time of the run, summed over all its processes and threads (beyond: TLE). */
      cpuMs: z.number().int().min(100).max(600_000).optional(),
      /** CPU time of the compilation, likewise (beyond: CE). */
      compileCpuMs: z.number().int().min(100).max(600_000).optional(),
      /** Processes and threads in the sandbox (Docker's pids limit). */
      pids: z.number().int().min(8).max(4096).optional(),
    })
    .optional(),
  /**
   * A shell command, run in the language's image, that prints exactly `version` (checked by the
   * tests, so `version` cannot drift from what the image really ships).
   */
  versionCommand: z.string().min(1).optional(),
  /** A program that prints exactly `OK` (tests). */
  testProgram: z.string().min(1),
  /** Hello, World! (also the starter code a client may show). */
  helloProgram: z.string().min(1).optional(),
  /**
   * Reads two integers from stdin, prints their product, writes `warn` on stderr and exits with
   * code 3: the same behaviour in every language, tested through the real path.
   */
  ioProgram: z.string().min(1).optional(),
});
export type LanguageDefinition = z.infer<typeof languageDefinitionSchema>;

/**
 * A deployment's default limits of a run: the worker's RUN_*, COMPILE_*, SUBMIT_* and
 * OUTPUT_LIMIT_BYTES settings (README "Configuration"). A language.json may override some of
 * them (`limits` above). Workers publish theirs in Redis so that `languages:list` reports what
 * they enforce.
 */
export const runLimitsSchema = z.strictObject({
  /** Wall clock of the run stage in run mode. */
  wallMs: z.number().int().min(100).max(600_000),
  /** Wall clock and CPU time of the run stage in submit mode (per test). */
  submitWallMs: z.number().int().min(100).max(600_000),
  submitCpuMs: z.number().int().min(100).max(600_000),
  compileWallMs: z.number().int().min(100).max(600_000),
  /** CPU time of the run stage (all processes and threads together); past it: TLE. */
  cpuMs: z.number().int().min(100).max(600_000),
  /** CPU time of the compile stage; past it: CE. */
  compileCpuMs: z.number().int().min(100).max(600_000),
  memoryMb: z.number().int().min(16).max(16_384),
  cpus: z.number().min(0.1).max(64),
  pids: z.number().int().min(8).max(4096),
  tmpfsMb: z.number().int().min(1).max(4096),
  /** Largest file a process may write (RLIMIT_FSIZE; past it: EFBIG, or SIGXFSZ). */
  fileSizeMb: z.number().int().min(1).max(4096),
  /** Open files per process (RLIMIT_NOFILE). */
  openFiles: z.number().int().min(16).max(65_536),
  /** stdout+stderr per run; past it: OLE. At most 4 MiB (one MongoDB document holds it). */
  outputBytes: z
    .number()
    .int()
    .min(1024)
    .max(4 * 1024 * 1024),
});
export type RunLimits = z.infer<typeof runLimitsSchema>;

export const DEFAULT_RUN_LIMITS: Readonly<RunLimits> = Object.freeze({
  wallMs: 5000,
  submitWallMs: 15_000,
  submitCpuMs: 12_000,
  compileWallMs: 15_000,
  cpuMs: 4000,
  compileCpuMs: 10_000,
  memoryMb: 256,
  cpus: 1,
  pids: 64,
  tmpfsMb: 64,
  fileSizeMb: 64,
  openFiles: 256,
  outputBytes: 64 * 1024,
});

/**
 * What every one of several workers guarantees: each limit at its lowest among them (a run may go
 * to any worker). The built-in defaults when there are none.
 */
export function strictestLimits(all: readonly RunLimits[]): RunLimits {
  if (all.length === 0) return { ...DEFAULT_RUN_LIMITS };
  const out = { ...all[0] };
  for (const l of all.slice(1)) {
    for (const k of Object.keys(out) as (keyof RunLimits)[]) out[k] = Math.min(out[k], l[k]);
  }
  return out;
}

/**
 * The limits of one run of `language` in `mode`: the language's own where it has them, else the
 * deployment's. Submit mode takes the longer of the language's and the submit limits, so a
 * language that needs more than the default keeps it there too.
 */
export function languageLimits(
  language: LanguageDefinition,
  defaults: RunLimits,
  mode: RunMode = 'run',
): RunLimits {
  const own = language.limits ?? {};
  const wallMs = own.wallMs ?? defaults.wallMs;
  const cpuMs = own.cpuMs ?? defaults.cpuMs;
  const submit = mode === 'submit';
  return {
    ...defaults,
    memoryMb: own.memoryMb ?? defaults.memoryMb,
    wallMs: submit ? Math.max(wallMs, defaults.submitWallMs) : wallMs,
    compileWallMs: own.compileWallMs ?? defaults.compileWallMs,
    cpuMs: submit ? Math.max(cpuMs, defaults.submitCpuMs) : cpuMs,
    compileCpuMs: own.compileCpuMs ?? defaults.compileCpuMs,
    pids: own.pids ?? defaults.pids,
  };
}

/**
 * The definition that runs `{ language, version }`: the language's own (its default version) when
 * `version` is missing or names it, else the one of its `versionOf` definitions whose version
 * equals `version` or starts with it followed by a dot (`3.11` picks `3.11.2`). null: unknown.
 */
export function resolveLanguage(
  all: ReadonlyMap<string, LanguageDefinition>,
  language: string,
  version?: string,
): LanguageDefinition | null {
  const main = all.get(language);
  if (!main || main.versionOf) return null;
  const matches = (l: LanguageDefinition) =>
    version === undefined || l.version === version || l.version.startsWith(`${version}.`);
  if (matches(main)) return main;
  return [...all.values()].find((l) => l.versionOf === language && matches(l)) ?? null;
}

/** The versions of a language, its default first (for `languages:list`). */
export function languageVersions(
  all: readonly LanguageDefinition[],
  language: LanguageDefinition,
): string[] {
  return [
    language.version,
    ...all.filter((l) => l.versionOf === language.id).map((l) => l.version),
  ];
}

/**
 * `languages:list`: every language (not its other versions, which are in its `versions`), given
 * the deployment's default limits.
 */
export function languageInfos(
  all: readonly LanguageDefinition[],
  defaults: RunLimits,
): LanguageInfo[] {
  const info = languageInfoWith(defaults);
  return all
    .filter((l) => !l.versionOf)
    .map((l) => {
      const versions = languageVersions(all, l);
      return versions.length > 1 ? { ...info(l), versions } : info(l);
    });
}

/** What `languages:list` says about a language, given the deployment's default limits. */
export function languageInfoWith(defaults: RunLimits): (l: LanguageDefinition) => LanguageInfo {
  return (l) => {
    const run = languageLimits(l, defaults, 'run');
    const submit = languageLimits(l, defaults, 'submit');
    const compiled = l.compile !== null;
    return {
      id: l.id,
      name: l.name,
      version: l.version,
      fileName: l.fileName,
      limits: {
        cpuMs: run.cpuMs,
        compileCpuMs: compiled ? run.compileCpuMs : null,
        wallMs: run.wallMs,
        compileWallMs: compiled ? run.compileWallMs : null,
        submitWallMs: submit.wallMs,
        submitCpuMs: submit.cpuMs,
        memoryMb: run.memoryMb,
        cpus: run.cpus,
        pids: run.pids,
        tmpfsMb: run.tmpfsMb,
        fileSizeMb: run.fileSizeMb,
        openFiles: run.openFiles,
        outputBytes: run.outputBytes,
      },
    };
  };
}

/** `languages:list` with the built-in defaults (before any worker published its limits). */
export const toLanguageInfo = languageInfoWith(DEFAULT_RUN_LIMITS);
