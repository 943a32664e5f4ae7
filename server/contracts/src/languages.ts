import { z } from 'zod';
import type { LanguageInfo } from './runs.js';

/**
 * `sandbox/languages/<id>/language.json`: a language is data. `compile` and `run` are one-line
 * shell commands run by the sandbox runner inside the program's working directory. `run` may
 * instead be the runner's built-in `@python <file>`: the runner, itself a Python 3 process
 * started with the sandbox, runs that file in its own interpreter exactly as
 * `python3 -u <file>` would, without starting another one (sandbox/README.md).
 */
export const languageDefinitionSchema = z.object({
  id: z.string().regex(/^[a-z][a-z0-9-]*$/),
  name: z.string().min(1),
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
  testProgram: z.string().min(1),
});
export type LanguageDefinition = z.infer<typeof languageDefinitionSchema>;

/** Defaults of the CPU-time limits (the worker's RUN_CPU_MS and COMPILE_CPU_MS). */
export const DEFAULT_CPU_LIMITS = { cpuMs: 4000, compileCpuMs: 10_000 } as const;

export interface CpuLimitDefaults {
  cpuMs: number;
  compileCpuMs: number;
}

/** What `languages:list` says about a language, given the deployment's default limits. */
export function languageInfoWith(
  defaults: CpuLimitDefaults,
): (l: LanguageDefinition) => LanguageInfo {
  return (l) => ({
    id: l.id,
    name: l.name,
    version: l.version,
    fileName: l.fileName,
    limits: {
      cpuMs: l.limits?.cpuMs ?? defaults.cpuMs,
      compileCpuMs: l.compile === null ? null : (l.limits?.compileCpuMs ?? defaults.compileCpuMs),
    },
  });
}

/** `languages:list` with the built-in defaults (a gateway that knows the workers' may pass them). */
export const toLanguageInfo = languageInfoWith(DEFAULT_CPU_LIMITS);
