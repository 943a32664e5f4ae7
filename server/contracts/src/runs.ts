import { z } from 'zod';
import { PAYLOAD_LIMITS } from './limits.js';

export const RUN_STATUSES = ['queued', 'compiling', 'running', 'finished'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** Statuses a client sees in `run:status` (the end is announced by `run:finished`). */
export type LiveRunStatus = Exclude<RunStatus, 'finished'>;

export const VERDICTS = [
  'OK',
  'AC',
  'WA',
  'CE',
  'RE',
  'TLE',
  'MLE',
  'OLE',
  'CANCELLED',
  'SE',
] as const;
export type Verdict = (typeof VERDICTS)[number];

export const STREAMS = ['stdout', 'stderr', 'compile'] as const;
export type OutputStream = (typeof STREAMS)[number];

export const RUN_MODES = ['run', 'submit'] as const;
export type RunMode = (typeof RUN_MODES)[number];

const utf8Bytes = (s: string): number => new TextEncoder().encode(s).length;

/**
 * A relative path inside the program's working directory: no absolute paths, no `.`/`..`
 * segments, no empty segments, a conservative character set (so no shell or newline tricks).
 */
export const filePathSchema = z
  .string()
  .min(1)
  .max(PAYLOAD_LIMITS.pathLength)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/, {
    message: 'must be a relative path of letters, digits, "_", "-", "." without "..", "." or "//"',
  })
  .refine((p) => p.split('/').length <= PAYLOAD_LIMITS.pathDepth, {
    message: `at most ${PAYLOAD_LIMITS.pathDepth} directory levels`,
  });

export const sourceFileSchema = z.object({
  path: filePathSchema,
  content: z.string(),
});
export type SourceFile = z.infer<typeof sourceFileSchema>;

const idSchema = z.string().min(1).max(64);

export const runStartSchema = z
  .object({
    language: z.string().min(1).max(32),
    source: z.string().optional(),
    files: z.array(sourceFileSchema).min(1).max(PAYLOAD_LIMITS.files).optional(),
    stdin: z.string().optional(),
    mode: z.enum(RUN_MODES).optional(),
    problemId: idSchema.optional(),
    sessionId: idSchema.optional(),
    interactive: z.boolean().optional(),
  })
  .refine((p) => (p.source === undefined) !== (p.files === undefined), {
    message: 'exactly one of "source" and "files" is required',
    path: ['source'],
  })
  .refine((p) => !p.files || new Set(p.files.map((f) => f.path)).size === p.files.length, {
    message: 'file paths must be unique',
    path: ['files'],
  });
export type RunStartPayload = z.input<typeof runStartSchema>;
export type RunStartRequest = z.output<typeof runStartSchema>;

/** Size checks that answer TOO_LARGE rather than INVALID; applied after `runStartSchema`. */
export function runStartTooLarge(p: RunStartRequest): string | null {
  const sourceBytes =
    p.source !== undefined
      ? utf8Bytes(p.source)
      : (p.files ?? []).reduce((n, f) => n + utf8Bytes(f.content), 0);
  if (sourceBytes > PAYLOAD_LIMITS.sourceBytes) {
    return `source is ${sourceBytes} bytes; the limit is ${PAYLOAD_LIMITS.sourceBytes}`;
  }
  if (p.stdin !== undefined && utf8Bytes(p.stdin) > PAYLOAD_LIMITS.stdinBytes) {
    return `stdin is larger than ${PAYLOAD_LIMITS.stdinBytes} bytes`;
  }
  return null;
}

export const runIdSchema = z.object({ runId: idSchema });
export const runWatchSchema = z.object({
  runId: idSchema,
  afterSeq: z.number().int().min(0).optional(),
});
export const runInputSchema = z.object({
  runId: idSchema,
  data: z.string().max(PAYLOAD_LIMITS.stdinBytes),
  eof: z.boolean().optional(),
});
export const emptySchema = z.object({}).optional();

export type RunIdPayload = z.input<typeof runIdSchema>;
export type RunWatchPayload = z.input<typeof runWatchSchema>;
export type RunInputPayload = z.input<typeof runInputSchema>;

export interface OutputChunk {
  runId: string;
  seq: number;
  stream: OutputStream;
  data: string;
}

export interface RunStatusEvent {
  runId: string;
  status: LiveRunStatus;
  position?: number;
  /** ISO-8601 time of the transition. */
  at: string;
}

export interface RunTestEvent {
  runId: string;
  index: number;
  verdict: Verdict;
  timeMs: number;
  hidden: boolean;
}

export interface RunResult {
  verdict: Verdict;
  exitCode: number | null;
  signal: string | null;
  timeMs: number;
  /** Peak memory of the run in KiB, or null where the engine could not measure it. */
  memoryKb: number | null;
  truncated: boolean;
  tests?: RunTestEvent[];
  score?: number;
}

export interface RunFinishedEvent extends RunResult {
  runId: string;
}

export interface RunSummary {
  runId: string;
  ownerId: string;
  language: string;
  mode: RunMode;
  status: RunStatus;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Highest output seq known when the summary was taken. */
  lastSeq: number;
  result: RunResult | null;
}

export interface LanguageInfo {
  id: string;
  name: string;
  version: string;
  fileName: string;
}

export interface RunStartResult {
  runId: string;
  status: 'queued';
  position: number;
}
export interface RunWatchResult {
  run: RunSummary;
  backlog: OutputChunk[];
}
export interface LanguagesListResult {
  languages: LanguageInfo[];
}
