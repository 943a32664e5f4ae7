import { z } from 'zod';
import { CHECKERS } from './jobs.js';
import { PAYLOAD_LIMITS } from './limits.js';
import {
  idSchema,
  isoTime,
  liveRunStatusSchema,
  runModeSchema,
  runTestEventSchema,
  sourceFileSchema,
  verdictSchema,
} from './runs.js';

// The classroom (API.md "Sessions (classroom), version 1.1"): sessions and presence, problems,
// the shared document (Yjs over the socket), the instructor's dashboard. Like runs.ts, every
// payload is a zod schema from which the types and the AsyncAPI document are derived.

/** Limits of the classroom part of the API (documented in the AsyncAPI document). */
export const CLASSROOM_LIMITS = {
  /** Characters of a session's or a problem's title. */
  titleLength: 200,
  /** Problems one session holds. */
  problemsPerSession: 50,
  /** Members (students and instructors) of one session. */
  membersPerSession: 500,
  /** Characters of a problem statement (Markdown). */
  statementLength: 64 * 1024,
  /** Test cases of one problem. */
  testsPerProblem: 100,
  /** Bytes of one test's stdin, and of its expected output. */
  testBytes: 64 * 1024,
  /** Bytes of all tests of a problem together (stdin and expected output). */
  problemBytes: 768 * 1024,
  /** Bytes of one Yjs update (decoded). */
  docUpdateBytes: 256 * 1024,
  /** Bytes of a session's whole shared document (all its updates merged). */
  docBytes: 2 * 1024 * 1024,
  /** Bytes of one awareness update (decoded). */
  awarenessBytes: 16 * 1024,
  /** Runs in a dashboard snapshot. */
  dashboardRuns: 200,
} as const;

/** Characters of a join code: no 0/O, 1/I/L, so it reads unambiguously off a projector. */
export const JOIN_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const JOIN_CODE_LENGTH = 6;

export const SESSION_STATUSES = ['open', 'closed'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];
export const MEMBER_ROLES = ['instructor', 'student'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

const sessionIdField = idSchema.describe('Id of the session.');
const problemIdField = idSchema.describe('Id of the problem.');
const userIdField = z.string().min(1).max(128).describe('A user id (token `sub`).');
const base64 = (what: string, maxBytes: number) =>
  z
    .string()
    // The decoded size is checked by the server (TOO_LARGE); this bounds only the text.
    .max(PAYLOAD_LIMITS.messageBytes)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, { message: 'must be base64' })
    .describe(`${what} (base64; at most ${maxBytes} bytes decoded, else \`TOO_LARGE\`).`);

// ---------------------------------------------------------------------------------------------
// Client to server.

export const sessionIdSchema = z.object({ sessionId: sessionIdField }).describe('Names a session.');

export const sessionCreateSchema = z
  .object({
    title: z
      .string()
      .trim()
      .min(1)
      .max(CLASSROOM_LIMITS.titleLength)
      .describe('Title shown to the members.'),
    problemIds: z
      .array(problemIdField)
      .max(CLASSROOM_LIMITS.problemsPerSession)
      .describe('Problems of the session (created with `problem:create`), in order.')
      .optional(),
  })
  .describe('Creates a session; the sender becomes its instructor (instructor and admin roles).');

export const sessionJoinSchema = z
  .object({
    joinCode: z
      .string()
      .trim()
      .toUpperCase()
      .min(1)
      .max(16)
      .describe(
        `The session's join code (${JOIN_CODE_LENGTH} characters of \`${JOIN_CODE_ALPHABET}\`; ` +
          'case and surrounding spaces do not matter).',
      ),
  })
  .describe('Joins a session as a student with its join code.');

export const sessionInstructorsSchema = z
  .object({
    sessionId: sessionIdField,
    add: z.array(userIdField).max(50).describe('User ids to make instructors.').optional(),
    remove: z
      .array(userIdField)
      .max(50)
      .describe('User ids to remove as instructors (a session keeps at least one).')
      .optional(),
  })
  .describe("Changes a session's co-instructors.");

export const sessionLockSchema = z
  .object({
    sessionId: sessionIdField,
    readOnly: z.boolean().describe('While true, students may not edit the shared document.'),
  })
  .describe('Makes the shared document read-only for students, or editable again.');

export const sessionBroadcastSchema = z
  .object({
    sessionId: sessionIdField,
    language: z.string().min(1).max(32).describe('Id of the language of the code.'),
    source: z.string().describe('The code as one file.').optional(),
    files: z.array(sourceFileSchema).min(1).max(PAYLOAD_LIMITS.files).optional(),
  })
  .refine((p) => (p.source === undefined) !== (p.files === undefined), {
    message: 'exactly one of "source" and "files" is required',
    path: ['source'],
  })
  .meta({ oneOf: [{ required: ['source'] }, { required: ['files'] }] })
  .describe("Pushes the instructor's code to every member (`session:broadcast`).");

export const sessionShareSchema = z
  .object({ sessionId: sessionIdField, runId: idSchema.describe('Id of the run to share.') })
  .describe("Lets every member of the session watch one of the sender's runs.");

export const problemTestInputSchema = z.object({
  stdin: z.string().describe("The program's standard input for this test."),
  expected: z.string().describe('The expected standard output.'),
  points: z.number().min(0).max(1000).describe('Points the test is worth (default 1).').optional(),
  hidden: z
    .boolean()
    .describe('Hidden from students: neither its input nor its expected output (default false).')
    .optional(),
});

export const problemCreateSchema = z
  .object({
    title: z.string().trim().min(1).max(CLASSROOM_LIMITS.titleLength).describe('Title.'),
    statement: z
      .string()
      .max(CLASSROOM_LIMITS.statementLength)
      .describe('The statement, in Markdown (clients render it sanitized).'),
    languages: z
      .array(z.string().min(1).max(32))
      .max(64)
      .describe('Languages a submission may use (default: every language).')
      .optional(),
    starter: z
      .record(z.string().min(1).max(32), z.string().max(PAYLOAD_LIMITS.sourceBytes))
      .describe('Starter code per language id.')
      .optional(),
    limits: z
      .object({
        wallMs: z.number().int().min(100).max(60_000).optional(),
        memoryMb: z.number().int().min(16).max(4096).optional(),
      })
      .describe("Per-test limits (default: the workers' SUBMIT_* limits).")
      .optional(),
    checker: z
      .enum(CHECKERS)
      .describe(
        'How output is compared: `exact` (equal after normalising line ends and trailing ' +
          'whitespace), `tokens` (equal whitespace-separated tokens), `float` (tokens; numbers ' +
          'equal within `tolerance`). Default `exact`.',
      )
      .optional(),
    tolerance: z
      .number()
      .positive()
      .max(1)
      .describe('`float` checker: absolute or relative tolerance (default 1e-6).')
      .optional(),
    tests: z
      .array(problemTestInputSchema)
      .min(1)
      .max(CLASSROOM_LIMITS.testsPerProblem)
      .describe('Test cases, graded in order.'),
  })
  .describe('Creates a problem (instructor and admin roles).');
export type ProblemCreatePayload = z.input<typeof problemCreateSchema>;
export type ProblemCreateRequest = z.output<typeof problemCreateSchema>;

export const problemGetSchema = z
  .object({ problemId: problemIdField })
  .describe('Names a problem.');

export const docSyncSchema = z
  .object({
    sessionId: sessionIdField,
    stateVector: base64("The client's Yjs state vector (`Y.encodeStateVector`)", 64 * 1024),
  })
  .describe('Brings a client up to date with the shared document.');

export const docUpdateSchema = z
  .object({
    sessionId: sessionIdField,
    update: base64('A Yjs update', CLASSROOM_LIMITS.docUpdateBytes),
  })
  .describe('An edit of the shared document (a Yjs update).');

export const docAwarenessSchema = z
  .object({
    sessionId: sessionIdField,
    update: base64('A y-protocols awareness update', CLASSROOM_LIMITS.awarenessBytes),
  })
  .describe("A member's cursor, selection and name (y-protocols awareness).");

export const dashboardWatchSchema = z
  .object({
    sessionId: sessionIdField,
    afterSeq: z
      .number()
      .int()
      .min(0)
      .describe(
        'The last `dashboard:update` seq the client holds: the updates after it, up to the ' +
          "ack's `seq`, follow the ack (as far as the replay log reaches; the snapshot has the rest).",
      )
      .optional(),
  })
  .describe("Subscribes to a session's live dashboard (its instructors).");

export type SessionCreatePayload = z.input<typeof sessionCreateSchema>;
export type SessionJoinPayload = z.input<typeof sessionJoinSchema>;
export type SessionIdPayload = z.input<typeof sessionIdSchema>;
export type SessionInstructorsPayload = z.input<typeof sessionInstructorsSchema>;
export type SessionLockPayload = z.input<typeof sessionLockSchema>;
export type SessionBroadcastPayload = z.input<typeof sessionBroadcastSchema>;
export type SessionSharePayload = z.input<typeof sessionShareSchema>;
export type ProblemGetPayload = z.input<typeof problemGetSchema>;
export type DocSyncPayload = z.input<typeof docSyncSchema>;
export type DocUpdatePayload = z.input<typeof docUpdateSchema>;
export type DocAwarenessPayload = z.input<typeof docAwarenessSchema>;
export type DashboardWatchPayload = z.input<typeof dashboardWatchSchema>;

// ---------------------------------------------------------------------------------------------
// Views and server-to-client events.

export const activitySchema = z
  .object({
    runId: idSchema.describe("The member's current run."),
    status: liveRunStatusSchema,
  })
  .describe('What a member is running now.');
export type Activity = z.infer<typeof activitySchema>;

export const memberSchema = z
  .object({
    userId: userIdField,
    name: z.string().describe('Display name.'),
    role: z.enum(MEMBER_ROLES).describe('`instructor` or `student` in this session.'),
    online: z.boolean().describe("At least one of the member's connections is in the session."),
    activity: activitySchema.nullable().describe('What the member is running, or null.').optional(),
  })
  .describe('A member of a session.');
export type Member = z.infer<typeof memberSchema>;

export const problemTestViewSchema = z
  .object({
    index: z.number().int().min(0).describe('0-based index.'),
    points: z.number().min(0).describe('Points the test is worth.'),
    hidden: z.boolean().describe('A hidden test: no `stdin`/`expected` for students.'),
    stdin: z
      .string()
      .describe('Input (visible tests; hidden ones for instructors only).')
      .optional(),
    expected: z
      .string()
      .describe('Expected output (visible tests; hidden ones for instructors only).')
      .optional(),
  })
  .describe('A test case of a problem as the reader may see it.');

export const problemViewSchema = z
  .object({
    problemId: problemIdField,
    title: z.string(),
    statement: z.string().describe('Markdown.'),
    languages: z.array(z.string()).describe('Languages a submission may use (empty: any).'),
    starter: z.record(z.string(), z.string()).describe('Starter code per language id.'),
    limits: z
      .object({ wallMs: z.number().int().optional(), memoryMb: z.number().int().optional() })
      .describe('Per-test limits set by the problem.'),
    checker: z.enum(CHECKERS),
    tolerance: z.number().optional(),
    maxScore: z.number().min(0).describe("The sum of the tests' points."),
    tests: z.array(problemTestViewSchema),
  })
  .describe('A problem.');
export type ProblemView = z.infer<typeof problemViewSchema>;

export const sessionViewSchema = z
  .object({
    sessionId: sessionIdField,
    title: z.string(),
    status: z.enum(SESSION_STATUSES).describe('`open`, or `closed` (no runs, joins or edits).'),
    role: z.enum(MEMBER_ROLES).describe("The reader's role in the session."),
    readOnly: z.boolean().describe('Students may not edit the shared document.'),
    joinCode: z.string().describe('The join code (instructors only).').optional(),
    members: z.array(memberSchema),
    problems: z.array(problemViewSchema),
    createdAt: isoTime('When the session was created'),
  })
  .describe('A session as the reader may see it.');
export type SessionView = z.infer<typeof sessionViewSchema>;

export const dashboardRunSchema = z
  .object({
    runId: idSchema,
    userId: userIdField,
    language: z.string(),
    mode: runModeSchema,
    problemId: problemIdField.optional(),
    status: z.enum(['queued', 'compiling', 'running', 'finished']),
    verdict: verdictSchema.optional(),
    score: z.number().optional(),
    maxScore: z.number().optional(),
    tests: z
      .array(
        z.object({
          index: z.number().int().min(0),
          verdict: runTestEventSchema.shape.verdict,
          hidden: z.boolean(),
        }),
      )
      .describe(
        "A finished submission's test cases (verdict by index; hidden ones too, as this goes " +
          'to instructors only), so a snapshot tells which tests fail without the `test` updates.',
      )
      .optional(),
    createdAt: isoTime('When the run was started'),
  })
  .describe('A run of the session as the dashboard shows it.');
export type DashboardRun = z.infer<typeof dashboardRunSchema>;

export const progressSchema = z
  .object({
    userId: userIdField,
    problemId: problemIdField,
    bestScore: z.number().min(0),
    maxScore: z.number().min(0),
    attempts: z.number().int().min(0),
    solvedAt: isoTime('First time all tests passed').optional(),
  })
  .describe("A student's progress on one problem of the session.");
export type Progress = z.infer<typeof progressSchema>;

export const dashboardSnapshotSchema = z
  .object({
    sessionId: sessionIdField,
    members: z.array(
      memberSchema.extend({
        activity: activitySchema.nullable().describe('Current run, or null.'),
      }),
    ),
    runs: z
      .array(dashboardRunSchema)
      .describe(
        `The session's latest runs, newest first (at most ${CLASSROOM_LIMITS.dashboardRuns}).`,
      ),
    progress: z.array(progressSchema),
  })
  .describe('Everything the dashboard shows, as of the `seq` the watch ack carries.');
export type DashboardSnapshot = z.infer<typeof dashboardSnapshotSchema>;

const seq = z
  .number()
  .int()
  .min(1)
  .describe("Position in the session's dashboard feed: rises by exactly 1 per update.");
const at = isoTime('When the update was published').optional();

export const dashboardUpdateSchema = z
  .discriminatedUnion('kind', [
    z
      .object({
        sessionId: sessionIdField,
        seq,
        kind: z.literal('member'),
        at,
        member: memberSchema,
        removed: z
          .boolean()
          .describe('True when the member left the session (or stopped being an instructor).')
          .optional(),
      })
      .describe('A member joined, left, came online or went offline.'),
    z
      .object({
        sessionId: sessionIdField,
        seq,
        kind: z.literal('run'),
        at,
        run: dashboardRunSchema,
      })
      .describe('A run of the session was started, changed status or finished.'),
    z
      .object({
        sessionId: sessionIdField,
        seq,
        kind: z.literal('test'),
        at,
        userId: userIdField,
        test: runTestEventSchema,
      })
      .describe('A test case of a submission finished.'),
    z
      .object({
        sessionId: sessionIdField,
        seq,
        kind: z.literal('progress'),
        at,
        progress: progressSchema,
      })
      .describe("A student's progress on a problem changed."),
  ])
  .describe("One change of a session's dashboard (its instructors, after `dashboard:watch`).");
export type DashboardUpdate = z.infer<typeof dashboardUpdateSchema>;
/** A dashboard update before the feed numbers it (the feed adds `seq` and `sessionId`). */
export type DashboardChange = DashboardUpdate extends infer U
  ? U extends { seq: number }
    ? Omit<U, 'seq' | 'sessionId'>
    : never
  : never;

export const sessionPresenceEventSchema = z
  .object({ sessionId: sessionIdField, members: z.array(memberSchema) })
  .describe('Who is in the session and what they run; sent to members on every change.');
export const sessionClosedEventSchema = z
  .object({ sessionId: sessionIdField })
  .describe('The session was closed: no more runs, joins or edits.');
/** Who did something to a session (an instructor's id and display name). */
const actorSchema = (what: string) =>
  z.object({ userId: userIdField, name: z.string() }).describe(what);
export const sessionBroadcastEventSchema = z
  .object({
    sessionId: sessionIdField,
    from: actorSchema('The instructor.'),
    language: z.string(),
    files: z.array(sourceFileSchema),
  })
  .describe("An instructor's code, pushed to every member.");
export const sessionLockedEventSchema = z
  .object({
    sessionId: sessionIdField,
    readOnly: z
      .boolean()
      .describe('True: students may not edit the shared document; false: they may again.'),
    by: actorSchema('The instructor who locked or unlocked it.'),
  })
  .describe(
    'The shared document was locked (read-only for students) or unlocked, by `session:lock`.',
  );
export const sessionSharedEventSchema = z
  .object({ sessionId: sessionIdField, runId: idSchema, userId: userIdField })
  .describe('A member shared a run: every member may now `run:watch` it.');
export const docUpdateEventSchema = z
  .object({ sessionId: sessionIdField, update: z.string().describe('A Yjs update (base64).') })
  .describe("Another member's edit of the shared document.");
export const docAwarenessEventSchema = z
  .object({
    sessionId: sessionIdField,
    update: z.string().describe('A y-protocols awareness update (base64).'),
  })
  .describe("Other members' cursors and names.");

export type SessionPresenceEvent = z.infer<typeof sessionPresenceEventSchema>;
export type SessionClosedEvent = z.infer<typeof sessionClosedEventSchema>;
export type SessionBroadcastEvent = z.infer<typeof sessionBroadcastEventSchema>;
export type SessionLockedEvent = z.infer<typeof sessionLockedEventSchema>;
export type SessionSharedEvent = z.infer<typeof sessionSharedEventSchema>;
export type DocUpdateEvent = z.infer<typeof docUpdateEventSchema>;
export type DocAwarenessEvent = z.infer<typeof docAwarenessEventSchema>;

// ---------------------------------------------------------------------------------------------
// Acknowledgement results.

export const sessionResultSchema = z
  .object({ session: sessionViewSchema })
  .describe('The session as the sender may see it.');
export type SessionResult = z.infer<typeof sessionResultSchema>;
export const problemResultSchema = z
  .object({ problem: problemViewSchema })
  .describe('The problem as the sender may see it.');
export type ProblemResult = z.infer<typeof problemResultSchema>;
export const docSyncResultSchema = z
  .object({
    update: z
      .string()
      .describe(
        'A Yjs update (base64) with everything the client lacked; live `doc:update`s follow.',
      ),
  })
  .describe('What brings the client up to date.');
export type DocSyncResult = z.infer<typeof docSyncResultSchema>;
export const dashboardWatchResultSchema = z
  .object({
    snapshot: dashboardSnapshotSchema,
    seq: z
      .number()
      .int()
      .min(0)
      .describe(
        'The last dashboard update the snapshot includes; live updates follow from seq + 1.',
      ),
  })
  .describe('The dashboard now, and where its feed stands.');
export type DashboardWatchResult = z.infer<typeof dashboardWatchResultSchema>;
