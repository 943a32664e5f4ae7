import { z } from 'zod';
import type { ClientEventDoc } from './asyncapi.js';
import { emptySchema, idSchema, sourceFileSchema, type RunTestEvent } from './runs.js';
import { problemViewSchema, type DashboardRun, type ProblemView } from './sessions.js';

// Two reads the instructor's screens need (API.md "Sessions", additions): the problems an
// instructor wrote (to pick from when creating a session) and the code of a student's run (to
// follow a student on the dashboard). Kept apart from sessions.ts so the classroom's core
// contract stays as API.md lists it; spread into the tables of asyncapi.ts like the classroom's.

/**
 * The `tests` field of a finished submission's DashboardRun (verdict by index) from its result's
 * test events. No tests: no field, never `[]` (the feed's Lua, cjson, would store `[]` as `{}`).
 */
export function dashboardTests(
  tests: readonly Pick<RunTestEvent, 'index' | 'verdict' | 'hidden'>[] | undefined,
): Pick<DashboardRun, 'tests'> {
  if (!tests?.length) return {};
  return { tests: tests.map(({ index, verdict, hidden }) => ({ index, verdict, hidden })) };
}

/** Problems `problem:list` answers at most (newest first). */
export const PROBLEM_LIST_MAX = 200;

/** `problem:list` takes nothing (`{}`). */
export const problemListSchema = emptySchema;

export const problemListResultSchema = z
  .object({
    problems: z
      .array(problemViewSchema)
      .describe(
        `The sender's problems, newest first (at most ${PROBLEM_LIST_MAX}), hidden tests ` +
          'included (the sender is their author).',
      ),
  })
  .describe("The sender's problems.");
export type ProblemListResult = z.infer<typeof problemListResultSchema>;

export const dashboardCodeSchema = z
  .object({
    sessionId: idSchema.describe('Id of the session.'),
    runId: idSchema.describe('Id of a run of that session (`runs` of the dashboard).'),
  })
  .describe("Reads the program of a run of the session (the session's instructors).");
export type DashboardCodePayload = z.input<typeof dashboardCodeSchema>;

export const dashboardCodeResultSchema = z
  .object({
    runId: idSchema,
    userId: z.string().describe('Who started the run.'),
    language: z.string().describe('Id of its language.'),
    files: z
      .array(sourceFileSchema)
      .describe('The program as it was run (the first file is the main one).'),
  })
  .describe('The program of a run.');
export type DashboardCodeResult = z.infer<typeof dashboardCodeResultSchema>;

const PROBLEM: ProblemView = {
  problemId: 'p-7d41e0',
  title: 'Sum of two numbers',
  statement: 'Read `a` and `b`, print `a + b`.',
  languages: ['python'],
  starter: {},
  limits: {},
  checker: 'tokens',
  maxScore: 2,
  tests: [
    { index: 0, points: 1, hidden: false, stdin: '1 2\n', expected: '3\n' },
    { index: 1, points: 1, hidden: true, stdin: '40 2\n', expected: '42\n' },
  ],
};
const RUN = '6f1c1c9e-5a43-4b7e-9a51-0f3f8e2b7d10';

export const INSTRUCTOR_CLIENT_DOCS = {
  'problem:list': {
    summary: 'List your problems.',
    description:
      'The problems the sender created, newest first, with every test (the sender is their ' +
      'author): what an instructor picks from when creating a session (`session:create` ' +
      '`problemIds`). Also `GET /api/problems`. Accounts with the `instructor` or `admin` role; ' +
      'refusals: `FORBIDDEN` (a student account), `RATE_LIMITED`.',
    payload: problemListSchema,
    result: problemListResultSchema,
    examples: [{ name: 'list', summary: 'My problems', payload: {} }],
    ackExample: { problems: [PROBLEM] },
    refusedExample: { code: 'FORBIDDEN', message: 'only instructor or admin accounts may do this' },
  },
  'dashboard:code': {
    summary: "Read the program of a student's run.",
    description:
      'The files of a run of the session as it was started (a run or a submission), for the ' +
      "dashboard's view of a student. The session's instructors only (a student, even the " +
      "run's owner, is `FORBIDDEN` here). Refusals: `FORBIDDEN`, `NOT_FOUND` (no such run in " +
      "this session, or its document is not stored yet: it is written just after `run:start`'s " +
      'ack, so ask again a moment later), `INVALID`, `RATE_LIMITED`.',
    payload: dashboardCodeSchema,
    result: dashboardCodeResultSchema,
    examples: [
      { name: 'code', summary: "A run's program", payload: { sessionId: 's-3f2a9c', runId: RUN } },
    ],
    ackExample: {
      runId: RUN,
      userId: 'u-ada',
      language: 'python',
      files: [{ path: 'main.py', content: 'a, b = map(int, input().split())\nprint(a + b)\n' }],
    },
    refusedExample: {
      code: 'FORBIDDEN',
      message: 'only the instructors of this session may do this',
    },
  },
} satisfies { [E in 'problem:list' | 'dashboard:code']: ClientEventDoc<E> };

/** Schemas with a `components.schemas` entry of their own. */
export const INSTRUCTOR_SCHEMA_NAMES: [z.ZodType, string][] = [
  [problemListResultSchema, 'ProblemListResult'],
  [dashboardCodeSchema, 'DashboardCodePayload'],
  [dashboardCodeResultSchema, 'DashboardCodeResult'],
];
