import { z } from 'zod';
import { PAYLOAD_LIMITS } from './limits.js';

// Every payload of the run events is a zod schema; the TypeScript types are inferred from them
// and the AsyncAPI document (asyncapi.ts) is generated from them, so none of the three can drift.
// The `.describe()` texts end up in that document: write them for a third-party developer.

export const RUN_STATUSES = ['queued', 'compiling', 'running', 'finished'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** Statuses a client sees in `run:status` (the end is announced by `run:finished`). */
export const LIVE_RUN_STATUSES = [
  'queued',
  'compiling',
  'running',
] as const satisfies readonly Exclude<RunStatus, 'finished'>[];
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

export const runStatusSchema = z
  .enum(RUN_STATUSES)
  .describe('Where a run is: `queued` (waiting for a worker), `compiling`, `running`, `finished`.');
export const liveRunStatusSchema = z
  .enum(LIVE_RUN_STATUSES)
  .describe(
    'Where a live run is: `queued` (waiting for a worker), `compiling`, `running`. ' +
      'The end of a run is announced by `run:finished`, not by a status.',
  );
export const verdictSchema = z
  .enum(VERDICTS)
  .describe(
    'Outcome of a run or of one test case. Run mode: `OK`, `CE` (compile error; also a run ' +
      "that reached a worker without its language's image: the reason is the compile output), " +
      '`RE` (non-zero exit or signal), `TLE` (time limit exceeded), `MLE` (memory limit ' +
      'exceeded), `OLE` (output limit exceeded), `CANCELLED`, `SE` (system error). Submit mode ' +
      'uses `AC` (all tests passed) and `WA` (wrong answer) in place of `OK`, plus the others.',
  );
export const outputStreamSchema = z
  .enum(STREAMS)
  .describe("Which stream a chunk comes from: the program's `stdout`/`stderr`, or the compiler.");
export const runModeSchema = z
  .enum(RUN_MODES)
  .describe(
    '`run` (default) executes the program once with the given stdin; `submit` grades it ' +
      'against the test cases of the problem `problemId`.',
  );

const PATH_SEGMENT = '[A-Za-z0-9_][A-Za-z0-9_.-]*';

/**
 * A relative path inside the program's working directory: no absolute paths, no `.`/`..`
 * segments, no empty segments, a conservative character set (so no shell or newline tricks).
 */
export const filePathSchema = z
  .string()
  .min(1)
  .max(PAYLOAD_LIMITS.pathLength)
  .regex(new RegExp(`^${PATH_SEGMENT}(/${PATH_SEGMENT})*$`), {
    message: 'must be a relative path of letters, digits, "_", "-", "." without "..", "." or "//"',
  })
  .refine((p) => p.split('/').length <= PAYLOAD_LIMITS.pathDepth, {
    message: `at most ${PAYLOAD_LIMITS.pathDepth} directory levels`,
  })
  .meta({
    // The same rule as the regex and the depth check above, as one pattern for JSON Schema.
    pattern: `^${PATH_SEGMENT}(/${PATH_SEGMENT}){0,${PAYLOAD_LIMITS.pathDepth - 1}}$`,
    description:
      "Relative path of the file inside the program's working directory, e.g. `src/util.py`: " +
      'segments of letters, digits, `_`, `-` and `.` separated by `/`; a segment does not start ' +
      `with \`.\`; no leading \`/\`, no \`..\`, \`.\` or empty segments; at most ` +
      `${PAYLOAD_LIMITS.pathDepth} segments and ${PAYLOAD_LIMITS.pathLength} characters.`,
  });

export const sourceFileSchema = z
  .object({
    path: filePathSchema,
    content: z.string().describe('The text of the file (UTF-8).'),
  })
  .describe('One file of a multi-file program.');
export type SourceFile = z.infer<typeof sourceFileSchema>;

export const idSchema = z.string().min(1).max(64);
const runIdField = idSchema.describe('Id of the run, as answered by `run:start`.');
const seqField = (what: string) => z.number().int().min(1).describe(what);
export const isoTime = (what: string) =>
  z.iso
    .datetime({ offset: true })
    .describe(`${what} (ISO-8601, e.g. \`2025-01-31T12:00:00.000Z\`).`);

export const runStartSchema = z
  .object({
    language: z
      .string()
      .min(1)
      .max(32)
      .describe('Id of the language, one of the `id`s answered by `languages:list`.'),
    version: z
      .string()
      .min(1)
      .max(32)
      .describe(
        'Version of the language, one of its `versions` in `languages:list`, or a prefix of ' +
          "one up to a dot (`3.11` for `3.11.2`). Default: the language's `version`. A version " +
          'may name a variant of the same compiler after a `+`: TypeScript runs by transpiling ' +
          'only (type errors are not `CE`), `7.0.2+typecheck` type-checks first (a type error ' +
          "is `CE`, with the compiler's messages).",
      )
      .optional(),
    source: z
      .string()
      .describe(
        "The whole program as a single file (named after the language's `fileName`). " +
          `At most ${PAYLOAD_LIMITS.sourceBytes} bytes of UTF-8, else the ack is \`TOO_LARGE\`. ` +
          'Exactly one of `source` and `files` is required.',
      )
      .optional(),
    files: z
      .array(sourceFileSchema)
      .min(1)
      .max(PAYLOAD_LIMITS.files)
      .describe(
        'A multi-file program; paths must be unique, and no path may be a directory of ' +
          'another (`lib` and `lib/mod.py` together are refused). Their contents together are at most ' +
          `${PAYLOAD_LIMITS.sourceBytes} bytes of UTF-8, else the ack is \`TOO_LARGE\`. ` +
          'Exactly one of `source` and `files` is required.',
      )
      .optional(),
    stdin: z
      .string()
      .describe(
        `Standard input of the program (run mode). At most ${PAYLOAD_LIMITS.stdinBytes} bytes ` +
          'of UTF-8, else the ack is `TOO_LARGE`.',
      )
      .optional(),
    mode: runModeSchema.optional(),
    problemId: idSchema.describe('The problem to grade against (submit mode).').optional(),
    sessionId: idSchema
      .describe('The classroom session the run belongs to; its instructors can watch it.')
      .optional(),
    interactive: z
      .boolean()
      .describe('Keep stdin open so that the owner can feed it with `run:input`.')
      .optional(),
  })
  .refine((p) => (p.source === undefined) !== (p.files === undefined), {
    message: 'exactly one of "source" and "files" is required',
    path: ['source'],
  })
  .refine((p) => !p.files || new Set(p.files.map((f) => f.path)).size === p.files.length, {
    message: 'file paths must be unique',
    path: ['files'],
  })
  .superRefine((p, ctx) => {
    const clash = p.files ? fileDirectoryClash(p.files.map((f) => f.path)) : null;
    if (clash) {
      ctx.addIssue({
        code: 'custom',
        message: `"${clash.file}" is a file, so it cannot also be a directory of "${clash.under}"`,
        path: ['files'],
      });
    }
  })
  .meta({
    // The first refinement above, for JSON Schema.
    oneOf: [{ required: ['source'] }, { required: ['files'] }],
    description: 'Starts a run. The program is given either as `source` (one file) or as `files`.',
  });
export type RunStartPayload = z.input<typeof runStartSchema>;

/**
 * The first path used both as a file and as a directory of another (`lib` and `lib/mod.py`), or
 * null. The sandbox could not write such a layout; refused here as INVALID, like any bad payload.
 */
export function fileDirectoryClash(
  paths: readonly string[],
): { file: string; under: string } | null {
  const files = new Set(paths);
  for (const p of paths) {
    for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1)) {
      if (files.has(p.slice(0, i))) return { file: p.slice(0, i), under: p };
    }
  }
  return null;
}
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

export const runIdSchema = z.object({ runId: runIdField }).describe('Names a run.');
export const runWatchSchema = z
  .object({
    runId: runIdField,
    afterSeq: z
      .number()
      .int()
      .min(0)
      .describe(
        'The highest `run:output` seq the client already holds (default 0: everything). The ' +
          'ack carries every chunk after it as `backlog`, live events follow.',
      )
      .optional(),
  })
  .describe('Subscribes to a run, or resumes a subscription after a gap or a reconnect.');
export const runInputSchema = z
  .object({
    runId: runIdField,
    data: z
      .string()
      .max(PAYLOAD_LIMITS.stdinBytes)
      .describe("Text to append to the program's stdin."),
    eof: z.boolean().describe("Close the program's stdin after `data`.").optional(),
  })
  .describe('Feeds stdin of an interactive run (owner only).');
export const emptySchema = z.object({}).optional().describe('An empty object (may be omitted).');

export type RunIdPayload = z.input<typeof runIdSchema>;
export type RunWatchPayload = z.input<typeof runWatchSchema>;
export type RunInputPayload = z.input<typeof runInputSchema>;

// ---------------------------------------------------------------------------------------------
// Server to client. These schemas describe what the server sends; it does not parse them.

export const outputChunkSchema = z
  .object({
    runId: runIdField,
    seq: seqField(
      "Position of the chunk in the run's output: starts at 1 and rises by exactly 1 for " +
        'every `run:output` of the run, across all streams.',
    ),
    stream: outputStreamSchema,
    data: z.string().describe('The output text (UTF-8), a few KiB at most.'),
  })
  .describe(
    "A piece of a run's output, delivered as it is produced (coalesced into chunks of at " +
      'most a few KiB / tens of ms). A client that sees a gap in `seq`, or reconnects, calls ' +
      '`run:watch` with `afterSeq` = the last seq it holds.',
  );
export type OutputChunk = z.infer<typeof outputChunkSchema>;

export const runStatusEventSchema = z
  .object({
    runId: runIdField,
    status: liveRunStatusSchema,
    position: z
      .number()
      .int()
      .min(1)
      .describe('While `queued`: 1-based place of the run among the waiting runs.')
      .optional(),
    at: isoTime('Time of the transition'),
  })
  .describe('A run changed status, or moved in the queue.');
export type RunStatusEvent = z.infer<typeof runStatusEventSchema>;

/** Verdicts one test case of a submission can get. */
export const TEST_VERDICTS = ['AC', 'WA', 'RE', 'TLE', 'MLE', 'OLE'] as const;
export type TestVerdict = (typeof TEST_VERDICTS)[number];

export const runTestEventSchema = z
  .object({
    runId: runIdField,
    index: z.number().int().min(0).describe('0-based index of the test case.'),
    verdict: z
      .enum(TEST_VERDICTS)
      .describe(
        'Verdict of this test case: `AC` (accepted), `WA` (wrong answer), `RE`, `TLE`, `MLE`, `OLE`.',
      ),
    timeMs: z.number().min(0).describe('Run time of the program on this test case, in ms.'),
    points: z
      .number()
      .min(0)
      .describe('Points this test case earned: its points when `AC`, else 0.')
      .optional(),
    maxPoints: z.number().min(0).describe('Points this test case is worth.').optional(),
    hidden: z
      .boolean()
      .describe('A hidden test case: its input and expected output are never sent to students.'),
    stdin: z
      .string()
      .describe('Visible test cases only: the input the program was given.')
      .optional(),
    expected: z.string().describe('Visible test cases only: the expected output.').optional(),
    actual: z
      .string()
      .describe("Visible test cases only: the program's output on this test case (cut at 64 KiB).")
      .optional(),
  })
  .describe(
    'The verdict of one test case (submit mode, one event per test case as it finishes). ' +
      'For a hidden test case only `index`, `verdict`, `timeMs`, `points`, `maxPoints` and ' +
      '`hidden` are present.',
  );
export type RunTestEvent = z.infer<typeof runTestEventSchema>;

const runResultShape = {
  verdict: verdictSchema,
  exitCode: z
    .number()
    .int()
    .nullable()
    .describe(
      "Exit code of the program (128 + n when a signal n ended it; the compiler's with `CE`), " +
        'or null when there is none.',
    ),
  signal: z
    .string()
    .nullable()
    .describe('Name of the signal that ended the program (e.g. `SIGKILL`), or null.'),
  timeMs: z.number().min(0).describe('Wall time of the run, in ms.'),
  memoryKb: z
    .number()
    .int()
    .min(0)
    .nullable()
    .describe('Peak memory of the run in KiB, or null where the engine could not measure it.'),
  truncated: z
    .boolean()
    .describe(
      "True when output beyond the run's output limit was cut (the verdict is then `OLE`).",
    ),
  tests: z
    .array(runTestEventSchema)
    .describe('Submit mode: the verdict of every test case, in order.')
    .optional(),
  score: z.number().min(0).describe('Submit mode: the score of the submission.').optional(),
  maxScore: z
    .number()
    .min(0)
    .describe('Submit mode: the highest score the problem allows.')
    .optional(),
};

export const runResultSchema = z.object(runResultShape).describe('The outcome of a finished run.');
export type RunResult = z.infer<typeof runResultSchema>;

export const runFinishedEventSchema = z
  .object({ runId: runIdField, ...runResultShape })
  .describe(
    'A run ended, with its result. Sent exactly once per run, also when the run is cancelled ' +
      'or fails for a system reason (verdict `SE`).',
  );
export type RunFinishedEvent = z.infer<typeof runFinishedEventSchema>;

export const runSummarySchema = z
  .object({
    runId: runIdField,
    ownerId: z.string().describe('User id (token `sub`) of the user who started the run.'),
    language: z.string().describe('Id of the language.'),
    mode: runModeSchema,
    status: runStatusSchema,
    createdAt: isoTime('When the run was started'),
    startedAt: isoTime('When a worker took the run').nullable(),
    finishedAt: isoTime('When the run ended').nullable(),
    lastSeq: z
      .number()
      .int()
      .min(0)
      .describe('Highest output seq known when the summary was taken (0: no output yet).'),
    result: runResultSchema.nullable().describe('The result once the run has finished, else null.'),
  })
  .describe('The state of a run at one moment.');
export type RunSummary = z.infer<typeof runSummarySchema>;

export const languageInfoSchema = z
  .object({
    id: z.string().describe('Id to pass as `language` in `run:start`, e.g. `python`.'),
    name: z.string().describe('Human-readable name, e.g. `Python`.'),
    version: z.string().describe('Version of the compiler or interpreter (the default one).'),
    versions: z
      .array(z.string())
      .describe(
        'Every version a run may ask for with `run:start { language, version }`, the default ' +
          'first; only for languages offered in more than one version.',
      )
      .optional(),
    fileName: z.string().describe('Name the program gets when given as `source`, e.g. `main.py`.'),
    limits: z
      .object({
        cpuMs: z
          .number()
          .int()
          .describe(
            'CPU time a run may use, in ms, summed over all its processes and threads; past it ' +
              'the run ends as `TLE` (the wall-clock limit applies as well).',
          ),
        compileCpuMs: z
          .number()
          .int()
          .nullable()
          .describe(
            'CPU time the compilation may use, in ms (past it: `CE`); null for a language ' +
              'without a compile step.',
          ),
        wallMs: z
          .number()
          .int()
          .optional()
          .describe('Wall-clock time a run may take, in ms (past it: `TLE`).'),
        compileWallMs: z
          .number()
          .int()
          .nullable()
          .optional()
          .describe(
            'Wall-clock time the compilation may take, in ms (past it: `CE`); null for a ' +
              'language without a compile step.',
          ),
        submitWallMs: z
          .number()
          .int()
          .optional()
          .describe('Wall-clock time per test of a run with `mode: "submit"`, in ms.'),
        submitCpuMs: z
          .number()
          .int()
          .optional()
          .describe('CPU time per test of a run with `mode: "submit"`, in ms.'),
        memoryMb: z
          .number()
          .int()
          .optional()
          .describe('Memory of the sandbox (compiler and program), in MiB (past it: `MLE`).'),
        cpus: z.number().optional().describe('CPU cores the sandbox may use at once.'),
        pids: z
          .number()
          .int()
          .optional()
          .describe('Processes and threads the sandbox may hold at once.'),
        tmpfsMb: z
          .number()
          .int()
          .optional()
          .describe('Size of the writable working directory and of `/tmp`, in MiB each.'),
        fileSizeMb: z
          .number()
          .int()
          .optional()
          .describe('Largest file a process may write, in MiB (past it the write fails: EFBIG).'),
        openFiles: z
          .number()
          .int()
          .optional()
          .describe('Files, pipes and sockets one process may hold open at once.'),
        outputBytes: z
          .number()
          .int()
          .optional()
          .describe('stdout and stderr together, in bytes (past it: cut, verdict `OLE`).'),
      })
      .describe('Per-run limits of this language.'),
  })
  .describe('A language the service can run.');
export type LanguageInfo = z.infer<typeof languageInfoSchema>;

// ---------------------------------------------------------------------------------------------
// Acknowledgement results (the part of `{ ok: true, ...result }` after `ok`).

export const runStartResultSchema = z
  .object({
    runId: runIdField.describe('Id of the new run.'),
    status: z.literal('queued').describe('A new run is always queued first.'),
    position: z.number().int().min(1).describe('1-based place of the run among the waiting runs.'),
  })
  .describe(
    'The run was accepted. The sender is subscribed to it: `run:status`, `run:output`, ' +
      '`run:test` and `run:finished` follow.',
  );
export type RunStartResult = z.infer<typeof runStartResultSchema>;

export const runWatchResultSchema = z
  .object({
    run: runSummarySchema,
    backlog: z
      .array(outputChunkSchema)
      .describe(
        'Every output chunk of the run with a seq above `afterSeq`, in seq order. Live ' +
          '`run:output` events follow from the next seq on, without duplicates.',
      ),
  })
  .describe('The run as it is now, and the output the client missed.');
export type RunWatchResult = z.infer<typeof runWatchResultSchema>;

export const languagesListResultSchema = z
  .object({
    languages: z.array(languageInfoSchema).describe('Every language the service can run.'),
  })
  .describe('The languages the service can run.');
export type LanguagesListResult = z.infer<typeof languagesListResultSchema>;

/** The result of acknowledgements that carry nothing but `ok: true`. */
export const emptyResultSchema = z.object({}).describe('Nothing beyond `ok: true`.');
