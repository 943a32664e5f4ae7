import type { z } from 'zod';
import type { ApiError } from './errors.js';
import type { ClientEventDoc, ServerEventDoc } from './asyncapi.js';
import { emptyResultSchema } from './runs.js';
import {
  activitySchema,
  dashboardRunSchema,
  dashboardSnapshotSchema,
  dashboardUpdateSchema,
  dashboardWatchResultSchema,
  dashboardWatchSchema,
  docAwarenessEventSchema,
  docAwarenessSchema,
  docSyncResultSchema,
  docSyncSchema,
  docUpdateEventSchema,
  docUpdateSchema,
  memberSchema,
  problemCreateSchema,
  problemGetSchema,
  problemResultSchema,
  problemViewSchema,
  progressSchema,
  sessionBroadcastEventSchema,
  sessionBroadcastSchema,
  sessionClosedEventSchema,
  sessionCreateSchema,
  sessionIdSchema,
  sessionInstructorsSchema,
  sessionJoinSchema,
  sessionLockSchema,
  sessionLockedEventSchema,
  sessionPresenceEventSchema,
  sessionResultSchema,
  sessionShareSchema,
  sessionSharedEventSchema,
  sessionViewSchema,
  type ProblemView,
  type SessionView,
} from './sessions.js';

// The AsyncAPI documentation of the classroom events (API.md "Sessions (classroom), version
// 1.1"), spread into the tables of asyncapi.ts, which checks at compile time that every event
// of the contracts is documented with exactly its payload and result types.

const SESSION_ID = 's-3f2a9c';
const PROBLEM_ID = 'p-7d41e0';
const RUN = '6f1c1c9e-5a43-4b7e-9a51-0f3f8e2b7d10';
const AT = '2025-01-01T12:00:00.000Z';

const problem: ProblemView = {
  problemId: PROBLEM_ID,
  title: 'Sum of two numbers',
  statement: 'Read `a` and `b`, print `a + b`.',
  languages: ['python', 'c'],
  starter: { python: 'a, b = map(int, input().split())\n' },
  limits: { wallMs: 2000 },
  checker: 'tokens',
  maxScore: 2,
  tests: [
    { index: 0, points: 1, hidden: false, stdin: '1 2\n', expected: '3\n' },
    { index: 1, points: 1, hidden: true },
  ],
};

const session: SessionView = {
  sessionId: SESSION_ID,
  title: 'CS101, week 3',
  status: 'open',
  role: 'instructor',
  readOnly: false,
  joinCode: 'K7PQ2M',
  members: [
    { userId: 'u-teacher', name: 'Grace', role: 'instructor', online: true, activity: null },
    {
      userId: 'u-ada',
      name: 'Ada',
      role: 'student',
      online: true,
      activity: { runId: RUN, status: 'running' },
    },
  ],
  problems: [problem],
  createdAt: AT,
};

const forbidden = (what: string): ApiError => ({ code: 'FORBIDDEN', message: what });
const notMember = forbidden('you are not a member of this session');
const notInstructor = forbidden('only the instructors of this session may do this');
const AUTHZ =
  'Refusals: `INVALID`, `NOT_FOUND` (no such session), `FORBIDDEN` (not allowed: see the ' +
  'authorization table in the README), `RATE_LIMITED`.';

export const CLASSROOM_CLIENT_DOCS = {
  'session:create': {
    summary: 'Create a session.',
    description:
      'Creates a live session (accounts with the `instructor` or `admin` role). The sender ' +
      'becomes its instructor and is in the session from now on (presence, document, ' +
      'dashboard). The answer carries the join code students use with `session:join`: ' +
      '6 characters without look-alikes (no 0/O, 1/I/L), unique among open sessions. ' +
      '`problemIds` must name existing problems the sender may read (`NOT_FOUND` otherwise).',
    payload: sessionCreateSchema,
    result: sessionResultSchema,
    examples: [
      {
        name: 'create',
        summary: 'A session with one problem',
        payload: { title: 'CS101, week 3', problemIds: [PROBLEM_ID] },
      },
    ],
    ackExample: { session },
    refusedExample: forbidden('only instructor or admin accounts may do this'),
  },
  'session:join': {
    summary: 'Join a session with its join code.',
    description:
      'Makes the sender a student of the session (an instructor of it stays an instructor) ' +
      'and puts this connection in it: `session:presence`, `session:broadcast`, ' +
      '`session:shared`, `doc:update` and `doc:awareness` follow. Joining again is harmless. ' +
      'Refusals: `NOT_FOUND` for an unknown code, `CONFLICT` for a closed session (or a full ' +
      'one), `RATE_LIMITED`.',
    payload: sessionJoinSchema,
    result: sessionResultSchema,
    examples: [{ name: 'join', summary: 'Join with a code', payload: { joinCode: 'k7pq2m' } }],
    ackExample: { session: { ...session, role: 'student', joinCode: undefined } },
    refusedExample: { code: 'NOT_FOUND', message: 'no open session has this join code' },
  },
  'session:get': {
    summary: 'Read a session (and re-enter it).',
    description:
      'Answers the session as the sender may see it and puts this connection in it (after a ' +
      'reconnect, a client calls it for every session it was in). Members only. ' +
      AUTHZ,
    payload: sessionIdSchema,
    result: sessionResultSchema,
    examples: [{ name: 'get', summary: 'Read a session', payload: { sessionId: SESSION_ID } }],
    ackExample: { session },
    refusedExample: notMember,
  },
  'session:leave': {
    summary: 'Leave a session.',
    description:
      'A student stops being a member (their runs and progress stay; they may join again ' +
      'while the session is open). An instructor leaves only if another instructor remains ' +
      '(`CONFLICT` otherwise). ' +
      AUTHZ,
    payload: sessionIdSchema,
    result: emptyResultSchema,
    examples: [{ name: 'leave', summary: 'Leave', payload: { sessionId: SESSION_ID } }],
    ackExample: {},
    refusedExample: notMember,
  },
  'session:close': {
    summary: 'Close a session.',
    description:
      'Ends the session for good: members get `session:closed`; it keeps its history ' +
      '(runs, progress, document, results) but accepts no runs, joins or edits (`CONFLICT`). ' +
      'Its instructors only. ' +
      AUTHZ,
    payload: sessionIdSchema,
    result: emptyResultSchema,
    examples: [{ name: 'close', summary: 'Close', payload: { sessionId: SESSION_ID } }],
    ackExample: {},
    refusedExample: notInstructor,
  },
  'session:instructors': {
    summary: "Change a session's co-instructors.",
    description:
      'Adds and removes instructors by user id (an added user need not have joined; a ' +
      'removed one stays a student). At least one instructor remains (`CONFLICT`). Its ' +
      'instructors only. ' +
      AUTHZ,
    payload: sessionInstructorsSchema,
    result: emptyResultSchema,
    examples: [
      {
        name: 'add',
        summary: 'Add a co-instructor',
        payload: { sessionId: SESSION_ID, add: ['u-assistant'] },
      },
    ],
    ackExample: {},
    refusedExample: notInstructor,
  },
  'session:lock': {
    summary: 'Make the shared document read-only for students, or editable again.',
    description:
      "While `readOnly`, students' `doc:update` answers `FORBIDDEN` (their awareness still " +
      'flows, so the instructor sees where they look). Every member, on every gateway node, ' +
      'gets `session:locked` (also when the setting did not change); `session:get` reads it ' +
      'too. Its instructors only; the session must be open (`CONFLICT`). ' +
      AUTHZ,
    payload: sessionLockSchema,
    result: emptyResultSchema,
    examples: [
      { name: 'lock', summary: 'Lock', payload: { sessionId: SESSION_ID, readOnly: true } },
    ],
    ackExample: {},
    refusedExample: notInstructor,
  },
  'session:broadcast': {
    summary: "Push the instructor's code to every member.",
    description:
      'Every member (the sender included) gets `session:broadcast` with the code as `files`. ' +
      'Its instructors only; the session must be open (`CONFLICT`). ' +
      AUTHZ,
    payload: sessionBroadcastSchema,
    result: emptyResultSchema,
    examples: [
      {
        name: 'broadcast',
        summary: 'Push a snippet',
        payload: { sessionId: SESSION_ID, language: 'python', source: 'print("hi")\n' },
      },
    ],
    ackExample: {},
    refusedExample: notInstructor,
  },
  'session:share': {
    summary: 'Share one of your runs with the session.',
    description:
      'Every member may then `run:watch` the run (live and replay) and gets `session:shared`. ' +
      "The run's owner only, a member of the session. " +
      AUTHZ,
    payload: sessionShareSchema,
    result: emptyResultSchema,
    examples: [
      { name: 'share', summary: 'Share a run', payload: { sessionId: SESSION_ID, runId: RUN } },
    ],
    ackExample: {},
    refusedExample: forbidden('only the owner of a run may share it'),
  },
  'problem:create': {
    summary: 'Create a problem.',
    description:
      'A problem: Markdown statement, languages, starter code, per-test limits, checker and ' +
      'test cases with points, hidden or visible (accounts with the `instructor` or `admin` ' +
      "role; also `POST /api/problems`). Students never receive a hidden test's input or " +
      'expected output. Refusals: `INVALID`, `TOO_LARGE` (tests over the limits), ' +
      '`UNSUPPORTED_LANGUAGE`, `FORBIDDEN`, `RATE_LIMITED`.',
    payload: problemCreateSchema,
    result: problemResultSchema,
    examples: [
      {
        name: 'create',
        summary: 'One visible and one hidden test',
        payload: {
          title: 'Sum of two numbers',
          statement: 'Read `a` and `b`, print `a + b`.',
          languages: ['python', 'c'],
          checker: 'tokens',
          tests: [
            { stdin: '1 2\n', expected: '3\n' },
            { stdin: '40 2\n', expected: '42\n', hidden: true },
          ],
        },
      },
    ],
    ackExample: {
      problem: {
        ...problem,
        tests: [problem.tests[0], { ...problem.tests[1], stdin: '40 2\n', expected: '42\n' }],
      },
    },
    refusedExample: forbidden('only instructor or admin accounts may do this'),
  },
  'problem:get': {
    summary: 'Read a problem.',
    description:
      'Its author, admins, and members of a session holding it. Hidden tests carry `stdin` ' +
      "and `expected` only for the problem's author and the instructors of a session holding " +
      'it. Refusals: `NOT_FOUND` (also for a problem the sender may not read), `INVALID`.',
    payload: problemGetSchema,
    result: problemResultSchema,
    examples: [{ name: 'get', summary: 'Read a problem', payload: { problemId: PROBLEM_ID } }],
    ackExample: { problem },
    refusedExample: { code: 'NOT_FOUND', message: `problem ${PROBLEM_ID} not found` },
  },
  'doc:sync': {
    summary: 'Catch up with the shared document.',
    description:
      "Each session has one shared document (a Yjs `Y.Doc`; the web client keeps the files in a `Y.Map` named `files` of `Y.Text`). Send the client document's state vector; the answer is the update it lacks. Live `doc:update` events (other members' edits) follow while this connection is in the session; applying an update twice is harmless (Yjs), so a client syncs after every reconnect. Members only. " +
      AUTHZ,
    payload: docSyncSchema,
    result: docSyncResultSchema,
    examples: [
      {
        name: 'sync',
        summary: 'An empty client document',
        payload: { sessionId: SESSION_ID, stateVector: 'AA==' },
      },
    ],
    ackExample: { update: 'AQHLx9mWBgAEAQVmaWxlcwEA' },
    refusedExample: notMember,
  },
  'doc:update': {
    summary: 'Edit the shared document.',
    description:
      'A Yjs update (`Y.encodeStateAsUpdate` / the `update` event of a `Y.Doc`). The ack ' +
      'means it is stored: an acknowledged update is never lost, across gateway restarts. ' +
      'Every other member gets it as `doc:update`. Refusals: `FORBIDDEN` (not a member, or a ' +
      'student while the session is read-only), `CONFLICT` (closed session), `INVALID` (not a ' +
      'Yjs update), `TOO_LARGE` (the update, or the document it would make, over the limits), ' +
      '`RATE_LIMITED`.',
    payload: docUpdateSchema,
    result: emptyResultSchema,
    examples: [
      {
        name: 'edit',
        summary: 'An edit',
        payload: { sessionId: SESSION_ID, update: 'AQHLx9mWBgAEAQVmaWxlcwEA' },
      },
    ],
    ackExample: {},
    refusedExample: forbidden('the document is read-only for students'),
  },
  'doc:awareness': {
    summary: 'Share your cursor and name.',
    description:
      'A y-protocols awareness update (cursor, selection, name, colour), relayed to the ' +
      'other members (not stored). When a connection goes, its states are removed for the ' +
      'others. Members only. ' +
      AUTHZ,
    payload: docAwarenessSchema,
    result: emptyResultSchema,
    examples: [
      {
        name: 'cursor',
        summary: 'A cursor',
        payload: { sessionId: SESSION_ID, update: 'AQHLx9mWBgEbeyJ1c2VyIjp7Im5hbWUiOiJBZGEifX0=' },
      },
    ],
    ackExample: {},
    refusedExample: notMember,
  },
  'dashboard:watch': {
    summary: "Watch a session's dashboard.",
    description:
      'Answers a snapshot (members and what they run, the latest runs, every progress entry) ' +
      'and the `seq` of the last update it includes; then `dashboard:update` events follow, ' +
      'each exactly once, whichever gateway node the students and the instructor use. After a ' +
      'reconnect, watch again with `afterSeq` = the last seq held: the updates in between ' +
      'follow the ack (the snapshot has everything anyway). Its instructors only. Instructors ' +
      'may also `run:watch` every run of the session. ' +
      AUTHZ,
    payload: dashboardWatchSchema,
    result: dashboardWatchResultSchema,
    examples: [
      {
        name: 'resume',
        summary: 'Resume after update 41',
        payload: { sessionId: SESSION_ID, afterSeq: 41 },
      },
    ],
    ackExample: {
      snapshot: {
        sessionId: SESSION_ID,
        members: [{ userId: 'u-ada', name: 'Ada', role: 'student', online: true, activity: null }],
        runs: [
          {
            runId: RUN,
            userId: 'u-ada',
            language: 'python',
            mode: 'submit',
            problemId: PROBLEM_ID,
            status: 'finished',
            verdict: 'AC',
            score: 2,
            maxScore: 2,
            createdAt: AT,
          },
        ],
        progress: [
          {
            userId: 'u-ada',
            problemId: PROBLEM_ID,
            bestScore: 2,
            maxScore: 2,
            attempts: 1,
            solvedAt: AT,
          },
        ],
      },
      seq: 42,
    },
    refusedExample: notInstructor,
  },
  'dashboard:unwatch': {
    summary: "Stop watching a session's dashboard.",
    description: 'No more `dashboard:update` for this session on this connection.',
    payload: sessionIdSchema,
    result: emptyResultSchema,
    examples: [{ name: 'unwatch', summary: 'Stop', payload: { sessionId: SESSION_ID } }],
    ackExample: {},
    refusedExample: notInstructor,
  },
} satisfies { [E in ClassroomClientEvent]: ClientEventDoc<E> };

type ClassroomClientEvent =
  | 'session:create'
  | 'session:join'
  | 'session:get'
  | 'session:leave'
  | 'session:close'
  | 'session:instructors'
  | 'session:lock'
  | 'session:broadcast'
  | 'session:share'
  | 'problem:create'
  | 'problem:get'
  | 'doc:sync'
  | 'doc:update'
  | 'doc:awareness'
  | 'dashboard:watch'
  | 'dashboard:unwatch';

type ClassroomServerEvent =
  | 'session:presence'
  | 'session:closed'
  | 'session:broadcast'
  | 'session:locked'
  | 'session:shared'
  | 'doc:update'
  | 'doc:awareness'
  | 'dashboard:update';

export const CLASSROOM_SERVER_DOCS = {
  'session:presence': {
    summary: 'Who is in the session and what they run.',
    description:
      'Sent to the members on every change: a join, a leave, the last connection of a member ' +
      'closing, a gateway node dying (within 15 s), a member starting or finishing a run ' +
      '(`activity`). Each carries the whole list; changes closer together than 500 ms are ' +
      'sent as one (the first at once, then the latest list at the end of the 500 ms).',
    payload: sessionPresenceEventSchema,
    examples: [
      {
        name: 'presence',
        summary: 'Two members online',
        payload: { sessionId: SESSION_ID, members: session.members },
      },
    ],
  },
  'session:closed': {
    summary: 'The session was closed.',
    description: 'No more runs, joins or edits; its history stays readable.',
    payload: sessionClosedEventSchema,
    examples: [{ name: 'closed', summary: 'Closed', payload: { sessionId: SESSION_ID } }],
  },
  'session:broadcast': {
    summary: "An instructor's code.",
    description: 'Sent to every member when an instructor broadcasts code.',
    payload: sessionBroadcastEventSchema,
    examples: [
      {
        name: 'broadcast',
        summary: 'A snippet',
        payload: {
          sessionId: SESSION_ID,
          from: { userId: 'u-teacher', name: 'Grace' },
          language: 'python',
          files: [{ path: 'main.py', content: 'print("hi")\n' }],
        },
      },
    ],
  },
  'session:locked': {
    summary: 'The shared document was locked or unlocked.',
    description:
      'Sent to every member (the instructor who did it included) on every gateway node when ' +
      "an instructor sends `session:lock`. While `readOnly` is true, students' `doc:update` " +
      'answers `FORBIDDEN`; a client disables editing for students until one with `readOnly` ' +
      'false follows. A gateway forgets its cached copy of the session before it forwards this ' +
      'event, so an edit sent after an unlock arrived is accepted on any node. Members see ' +
      'the events of all nodes in one order (one Redis channel); `session:get` answers the ' +
      'stored setting (after a reconnect, read it there).',
    payload: sessionLockedEventSchema,
    examples: [
      {
        name: 'locked',
        summary: 'Grace locked the document',
        payload: {
          sessionId: SESSION_ID,
          readOnly: true,
          by: { userId: 'u-teacher', name: 'Grace' },
        },
      },
    ],
  },
  'session:shared': {
    summary: 'A member shared a run.',
    description: 'Every member may now `run:watch` it.',
    payload: sessionSharedEventSchema,
    examples: [
      {
        name: 'shared',
        summary: 'Ada shared a run',
        payload: { sessionId: SESSION_ID, runId: RUN, userId: 'u-ada' },
      },
    ],
  },
  'doc:update': {
    summary: "Another member's edit of the shared document.",
    description: 'A Yjs update to apply (`Y.applyUpdate`); never echoed to its sender.',
    payload: docUpdateEventSchema,
    examples: [
      {
        name: 'edit',
        summary: 'An edit',
        payload: { sessionId: SESSION_ID, update: 'AQHLx9mWBgAEAQVmaWxlcwEA' },
      },
    ],
  },
  'doc:awareness': {
    summary: "Other members' cursors.",
    description:
      'A y-protocols awareness update to apply (`applyAwarenessUpdate`); never echoed to its ' +
      'sender. A member whose connection went is announced with a null state.',
    payload: docAwarenessEventSchema,
    examples: [
      {
        name: 'cursor',
        summary: 'A cursor',
        payload: { sessionId: SESSION_ID, update: 'AQHLx9mWBgEbeyJ1c2VyIjp7Im5hbWUiOiJBZGEifX0=' },
      },
    ],
  },
  'dashboard:update': {
    summary: "A change of the session's dashboard.",
    description:
      'To the instructors watching the dashboard. `seq` rises by exactly 1 per update of the ' +
      'session; after a `dashboard:watch` ack each later update arrives exactly once, ' +
      'whichever gateway node the members use. `kind` says what changed: `member`, `run`, ' +
      '`test` (a test case of a submission) or `progress`.',
    payload: dashboardUpdateSchema,
    examples: [
      {
        name: 'run',
        summary: 'A submission finished',
        payload: {
          sessionId: SESSION_ID,
          seq: 43,
          kind: 'run',
          run: {
            runId: RUN,
            userId: 'u-ada',
            language: 'python',
            mode: 'submit',
            problemId: PROBLEM_ID,
            status: 'finished',
            verdict: 'WA',
            score: 1,
            maxScore: 2,
            tests: [
              { index: 0, verdict: 'AC', hidden: false },
              { index: 1, verdict: 'WA', hidden: true },
            ],
            createdAt: AT,
          },
        },
      },
      {
        name: 'test',
        summary: 'A hidden test failed',
        payload: {
          sessionId: SESSION_ID,
          seq: 44,
          kind: 'test',
          userId: 'u-ada',
          test: { runId: RUN, index: 1, verdict: 'WA', timeMs: 14, points: 0, hidden: true },
        },
      },
    ],
  },
} satisfies { [E in ClassroomServerEvent]: ServerEventDoc<E> };

/** The classroom schemas with a `components.schemas` entry of their own. */
export const CLASSROOM_SCHEMA_NAMES: [z.ZodType, string][] = [
  [sessionIdSchema, 'SessionIdPayload'],
  [sessionCreateSchema, 'SessionCreatePayload'],
  [sessionJoinSchema, 'SessionJoinPayload'],
  [sessionInstructorsSchema, 'SessionInstructorsPayload'],
  [sessionLockSchema, 'SessionLockPayload'],
  [sessionBroadcastSchema, 'SessionBroadcastPayload'],
  [sessionShareSchema, 'SessionSharePayload'],
  [problemCreateSchema, 'ProblemCreatePayload'],
  [problemGetSchema, 'ProblemGetPayload'],
  [docSyncSchema, 'DocSyncPayload'],
  [docUpdateSchema, 'DocUpdatePayload'],
  [docAwarenessSchema, 'DocAwarenessPayload'],
  [dashboardWatchSchema, 'DashboardWatchPayload'],
  [activitySchema, 'Activity'],
  [memberSchema, 'Member'],
  [problemViewSchema, 'ProblemView'],
  [sessionViewSchema, 'SessionView'],
  [dashboardRunSchema, 'DashboardRun'],
  [progressSchema, 'Progress'],
  [dashboardSnapshotSchema, 'DashboardSnapshot'],
  [dashboardUpdateSchema, 'DashboardUpdate'],
  [sessionPresenceEventSchema, 'SessionPresenceEvent'],
  [sessionClosedEventSchema, 'SessionClosedEvent'],
  [sessionBroadcastEventSchema, 'SessionBroadcastEvent'],
  [sessionLockedEventSchema, 'SessionLockedEvent'],
  [sessionSharedEventSchema, 'SessionSharedEvent'],
  [docUpdateEventSchema, 'DocUpdateEvent'],
  [docAwarenessEventSchema, 'DocAwarenessEvent'],
  [sessionResultSchema, 'SessionResult'],
  [problemResultSchema, 'ProblemResult'],
  [docSyncResultSchema, 'DocSyncResult'],
  [dashboardWatchResultSchema, 'DashboardWatchResult'],
];
