import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as Y from 'yjs';
import type {
  ClientToServerEvents,
  DashboardUpdate,
  Member,
  ProblemView,
  Role,
  SessionView,
} from '@coderoom/contracts';
import { JOIN_CODE_ALPHABET } from '@coderoom/contracts';
import {
  callEvent,
  okEvent,
  startRun,
  startStack,
  until,
  type ClientSocket,
  type EventPayload,
  type Stack,
} from './harness.js';

// The classroom through the real path: gateway, worker, Redis, FerretDB. One stack for the
// file; every test makes its own session so that they do not meet.
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ name: 'classroom', redisDb: 31 });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

type Event = keyof ClientToServerEvents;
const call = <E extends Event>(s: ClientSocket, event: E, payload: EventPayload<E>) =>
  callEvent(s, event, payload, 20_000);
const ok = okEvent;

/** Emits and expects a refusal with `code`. */
async function refused<E extends Event>(
  s: ClientSocket,
  event: E,
  payload: EventPayload<E>,
  code: string,
): Promise<void> {
  const ack = await call(s, event, payload);
  expect([event, ack.ok ? 'ok' : ack.error.code]).toEqual([event, code]);
}

let users = 0;
async function user(name: string, role: Role = 'student'): Promise<ClientSocket> {
  return stack.connect(await stack.token(`${name}-${++users}`, role));
}

/** Everything a socket receives, by event. */
function record(s: ClientSocket): Map<string, unknown[]> {
  const seen = new Map<string, unknown[]>();
  s.onAny((event: string, payload: unknown) => {
    if (!seen.has(event)) seen.set(event, []);
    seen.get(event)!.push(payload);
  });
  return seen;
}

const problemPayload = {
  title: 'Echo, twice',
  statement: 'Print your input **twice**.',
  languages: ['python'],
  checker: 'exact' as const,
  tests: [
    { stdin: 'visible-input\n', expected: 'visible-input\nvisible-input\n', points: 1 },
    {
      stdin: 'SECRET-HIDDEN-INPUT\n',
      expected: 'SECRET-HIDDEN-INPUT\nSECRET-HIDDEN-INPUT\n',
      points: 2,
      hidden: true,
    },
  ],
};

async function classroom(students = 1) {
  const teacher = await user('teacher', 'instructor');
  const { problem } = await ok(teacher, 'problem:create', problemPayload);
  const { session } = await ok(teacher, 'session:create', {
    title: 'Week 1, "intro", part 2',
    problemIds: [problem.problemId],
  });
  const kids: ClientSocket[] = [];
  for (let i = 0; i < students; i++) {
    const s = await user(`student${i}`);
    await ok(s, 'session:join', { joinCode: session.joinCode!.toLowerCase() });
    kids.push(s);
  }
  return { teacher, problem, session, students: kids };
}

describe('sessions', () => {
  it('creates a session with a readable join code; a student joins and sees no hidden test data', async () => {
    const { teacher, session, problem } = await classroom(0);
    expect(session.joinCode).toMatch(new RegExp(`^[${JOIN_CODE_ALPHABET}]{6}$`));
    expect(session.role).toBe('instructor');
    expect(problem.tests[1]).toMatchObject({ hidden: true, stdin: 'SECRET-HIDDEN-INPUT\n' });
    const presence = record(teacher);
    const student = await user('ada');
    const joined = (
      await ok(student, 'session:join', { joinCode: ` ${session.joinCode!.toLowerCase()} ` })
    ).session;
    expect(joined.role).toBe('student');
    expect(joined.joinCode).toBeUndefined();
    expect(JSON.stringify(joined)).not.toContain('SECRET');
    expect(joined.problems[0].tests[1]).toEqual({ index: 1, points: 2, hidden: true });
    const got = await ok(student, 'problem:get', { problemId: problem.problemId });
    expect(JSON.stringify(got)).not.toContain('SECRET');
    // The instructor sees the student come online.
    await until('presence with the student online', () =>
      (presence.get('session:presence') ?? []).some((p) =>
        (p as { members: Member[] }).members.some((m) => m.role === 'student' && m.online),
      ),
    );
    // Joining again is harmless; an unknown code is NOT_FOUND.
    await ok(student, 'session:join', { joinCode: session.joinCode! });
    await refused(student, 'session:join', { joinCode: 'ZZZZZZ' }, 'NOT_FOUND');
  }, 60_000);

  it('shows a member going offline when their last connection closes', async () => {
    const { teacher, session, students } = await classroom(1);
    const seen = record(teacher);
    students[0].disconnect();
    await until(
      'the student offline',
      () =>
        (seen.get('session:presence') ?? []).some((p) =>
          (p as { members: Member[] }).members.some((m) => m.role === 'student' && !m.online),
        ),
      15_000,
    );
    const view = (await ok(teacher, 'session:get', { sessionId: session.sessionId })).session;
    expect(view.members.find((m) => m.role === 'student')?.online).toBe(false);
  }, 60_000);

  it('broadcasts code to every member, and closes: no joins, runs or edits after', async () => {
    const { teacher, session, students } = await classroom(1);
    const seen = record(students[0]);
    await ok(teacher, 'session:broadcast', {
      sessionId: session.sessionId,
      language: 'python',
      source: 'print("from the teacher")',
    });
    await until('the broadcast', () => (seen.get('session:broadcast') ?? []).length === 1);
    expect(seen.get('session:broadcast')![0]).toMatchObject({
      language: 'python',
      files: [{ path: 'main.py', content: 'print("from the teacher")' }],
    });
    await ok(teacher, 'session:close', { sessionId: session.sessionId });
    await until('session:closed', () => (seen.get('session:closed') ?? []).length === 1);
    const late = await user('late');
    await refused(late, 'session:join', { joinCode: session.joinCode! }, 'CONFLICT');
    await refused(
      students[0],
      'run:start',
      { language: 'python', source: 'print(1)', sessionId: session.sessionId },
      'CONFLICT',
    );
    await refused(
      students[0],
      'doc:update',
      { sessionId: session.sessionId, update: edit('x') },
      'CONFLICT',
    );
    // Its history stays readable.
    expect(
      (await ok(teacher, 'session:get', { sessionId: session.sessionId })).session.status,
    ).toBe('closed');
  }, 60_000);
});

/** A Yjs update inserting `text` into a fresh document's `files/main.py`. */
function edit(text: string, doc = new Y.Doc()): string {
  const before = Y.encodeStateVector(doc);
  const files = doc.getMap<Y.Text>('files');
  if (!files.has('main.py')) files.set('main.py', new Y.Text());
  files.get('main.py')!.insert(files.get('main.py')!.length, text);
  return Buffer.from(Y.encodeStateAsUpdate(doc, before)).toString('base64');
}

describe('the shared document', () => {
  it('syncs a late joiner, relays edits to the others, refuses garbage and oversized updates', async () => {
    const { teacher, session, students } = await classroom(1);
    const sessionId = session.sessionId;
    const a = new Y.Doc();
    const seen = record(students[0]);
    await ok(teacher, 'doc:update', { sessionId, update: edit('print("hi")\n', a) });
    await until('the edit reaches the student', () => (seen.get('doc:update') ?? []).length === 1);
    const late = await user('late');
    await ok(late, 'session:join', { joinCode: session.joinCode! });
    const b = new Y.Doc();
    const { update } = await ok(late, 'doc:sync', {
      sessionId,
      stateVector: Buffer.from(Y.encodeStateVector(b)).toString('base64'),
    });
    Y.applyUpdate(b, Buffer.from(update, 'base64'));
    expect(b.getMap<Y.Text>('files').get('main.py')?.toJSON()).toBe('print("hi")\n');
    await refused(
      late,
      'doc:update',
      { sessionId, update: Buffer.from('garbage!').toString('base64') },
      'INVALID',
    );
    await refused(late, 'doc:update', { sessionId, update: 'not base64 at all' }, 'INVALID');
    const huge = Buffer.alloc(300 * 1024, 1).toString('base64');
    await refused(late, 'doc:update', { sessionId, update: huge }, 'TOO_LARGE');
    // The garbage did not get in: the document is still whole.
    const c = new Y.Doc();
    const again = await ok(late, 'doc:sync', {
      sessionId,
      stateVector: Buffer.from(Y.encodeStateVector(c)).toString('base64'),
    });
    Y.applyUpdate(c, Buffer.from(again.update, 'base64'));
    expect(c.getMap<Y.Text>('files').get('main.py')?.toJSON()).toBe('print("hi")\n');
  }, 60_000);

  it("refuses students' edits while locked, not the instructor's", async () => {
    const { teacher, session, students } = await classroom(1);
    const sessionId = session.sessionId;
    await ok(teacher, 'session:lock', { sessionId, readOnly: true });
    await refused(students[0], 'doc:update', { sessionId, update: edit('x') }, 'FORBIDDEN');
    await ok(teacher, 'doc:update', { sessionId, update: edit('y') });
    await ok(teacher, 'session:lock', { sessionId, readOnly: false });
    await ok(students[0], 'doc:update', { sessionId, update: edit('z') });
  }, 60_000);
});

describe('authorization: every cell that must refuse', () => {
  it('refuses students the instructor-only actions', async () => {
    const { session, students, problem } = await classroom(1);
    const s = students[0];
    const sessionId = session.sessionId;
    await refused(s, 'session:create', { title: 'mine' }, 'FORBIDDEN');
    await refused(s, 'problem:create', problemPayload, 'FORBIDDEN');
    await refused(s, 'session:close', { sessionId }, 'FORBIDDEN');
    await refused(s, 'session:lock', { sessionId, readOnly: true }, 'FORBIDDEN');
    await refused(s, 'session:instructors', { sessionId, add: ['x'] }, 'FORBIDDEN');
    await refused(
      s,
      'session:broadcast',
      { sessionId, language: 'python', source: '' },
      'FORBIDDEN',
    );
    await refused(s, 'dashboard:watch', { sessionId }, 'FORBIDDEN');
    // HTTP: the results are the instructors'.
    const token = await stack.token('csv-student');
    const res = await fetch(`${stack.url}/api/sessions/${sessionId}/results.csv`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(403);
    void problem;
  }, 60_000);

  it('refuses non-members everything of the session', async () => {
    const { session, problem } = await classroom(0);
    const outsider = await user('outsider');
    const sessionId = session.sessionId;
    await refused(outsider, 'session:get', { sessionId }, 'FORBIDDEN');
    await refused(outsider, 'session:leave', { sessionId }, 'FORBIDDEN');
    await refused(outsider, 'doc:sync', { sessionId, stateVector: 'AA==' }, 'FORBIDDEN');
    await refused(outsider, 'doc:update', { sessionId, update: edit('x') }, 'FORBIDDEN');
    await refused(outsider, 'doc:awareness', { sessionId, update: 'AA==' }, 'FORBIDDEN');
    await refused(outsider, 'dashboard:watch', { sessionId }, 'FORBIDDEN');
    await refused(
      outsider,
      'run:start',
      { language: 'python', source: 'print(1)', sessionId },
      'FORBIDDEN',
    );
    await refused(outsider, 'problem:get', { problemId: problem.problemId }, 'NOT_FOUND');
    const instructor = await user('other-teacher', 'instructor');
    await refused(instructor, 'session:close', { sessionId }, 'FORBIDDEN');
  }, 60_000);

  it("refuses a member of one session in another, and a student another's unshared run", async () => {
    const one = await classroom(1);
    const two = await classroom(1);
    const a = one.students[0];
    await refused(a, 'session:get', { sessionId: two.session.sessionId }, 'FORBIDDEN');
    await refused(
      a,
      'run:start',
      { language: 'python', source: 'print(1)', sessionId: two.session.sessionId },
      'FORBIDDEN',
    );
    // Two students of one session.
    const b = await user('b');
    await ok(b, 'session:join', { joinCode: one.session.joinCode! });
    const run = await startRun(a, {
      language: 'python',
      source: 'print("mine")',
      sessionId: one.session.sessionId,
    });
    await run.done();
    await refused(b, 'run:watch', { runId: run.runId }, 'FORBIDDEN');
    await refused(
      b,
      'session:share',
      { sessionId: one.session.sessionId, runId: run.runId },
      'FORBIDDEN',
    );
    // The instructor watches it; once shared, so may the other student.
    const watched = await ok(one.teacher, 'run:watch', { runId: run.runId });
    expect(watched.run.result?.verdict).toBe('OK');
    const seen = record(b);
    await ok(a, 'session:share', { sessionId: one.session.sessionId, runId: run.runId });
    await until('session:shared', () => (seen.get('session:shared') ?? []).length === 1);
    const shared = await ok(b, 'run:watch', { runId: run.runId });
    expect(shared.backlog.map((c) => c.data).join('')).toBe('mine\n');
    // A member of the other session still may not.
    await refused(two.students[0], 'run:watch', { runId: run.runId }, 'FORBIDDEN');
  }, 90_000);
});

describe('the dashboard', () => {
  it('gives a snapshot and then every update once, in seq order; resumes after a reconnect', async () => {
    const { teacher, session, students } = await classroom(1);
    const sessionId = session.sessionId;
    const updates: DashboardUpdate[] = [];
    teacher.on('dashboard:update', (u) => updates.push(u));
    const first = await ok(teacher, 'dashboard:watch', { sessionId });
    expect(first.snapshot.members.map((m) => m.role).sort()).toEqual(['instructor', 'student']);
    const run = await startRun(students[0], { language: 'python', source: 'print(1)', sessionId });
    await run.done();
    await until('the run on the dashboard', () =>
      updates.some((u) => u.kind === 'run' && u.run.runId === run.runId),
    );
    const seqs = updates.map((u) => u.seq);
    expect(seqs).toEqual(seqs.map((_, i) => first.seq + 1 + i));
    // Watching again after a gap (as after a reconnect): the updates since `afterSeq` follow.
    // (Listening first: the ack and the updates after it can arrive in one packet.)
    const again: DashboardUpdate[] = [];
    teacher.on('dashboard:update', (u) => again.push(u));
    const resumed = await ok(teacher, 'dashboard:watch', { sessionId, afterSeq: first.seq });
    await until('the missed updates', () => again.length >= resumed.seq - first.seq);
    expect(again.map((u) => u.seq).slice(0, resumed.seq - first.seq)).toEqual(
      Array.from({ length: resumed.seq - first.seq }, (_, i) => first.seq + 1 + i),
    );
    expect(resumed.snapshot.runs[0]).toMatchObject({
      runId: run.runId,
      userId: expect.any(String),
    });
  }, 60_000);
});

describe('submissions', () => {
  it('grades a submission live: run:test per test, the dashboard gets run, tests and progress, and no hidden data reaches the student', async () => {
    const { teacher, session, students, problem } = await classroom(1);
    const sessionId = session.sessionId;
    const student = students[0];
    const everything = record(student);
    const updates: DashboardUpdate[] = [];
    teacher.on('dashboard:update', (u) => updates.push(u));
    const watched = await ok(teacher, 'dashboard:watch', { sessionId });
    // Prints its input twice: passes both tests, and would show the hidden input if it leaked.
    const source =
      'import sys\ndata = sys.stdin.read()\nprint(data, end="")\nprint(data, end="")\nprint("stderr too", file=sys.stderr)\n';
    const run = await startRun(student, {
      language: 'python',
      source,
      mode: 'submit',
      problemId: problem.problemId,
      sessionId,
    });
    const done = await run.done(60_000);
    expect(done.finished).toMatchObject({ verdict: 'AC', score: 3, maxScore: 3 });
    expect(done.finished.tests?.map((t) => [t.index, t.verdict, t.hidden])).toEqual([
      [0, 'AC', false],
      [1, 'AC', true],
    ]);
    // A wrong submission: the score is the best one, attempts count both.
    const wrong = await startRun(student, {
      language: 'python',
      source: 'print("nope")',
      mode: 'submit',
      problemId: problem.problemId,
      sessionId,
    });
    expect((await wrong.done(60_000)).finished).toMatchObject({ verdict: 'WA', score: 0 });
    await until('progress on the dashboard', () =>
      updates.some((u) => u.kind === 'progress' && u.progress.attempts === 2),
    );
    const progress = updates.filter((u) => u.kind === 'progress').pop();
    expect(progress).toMatchObject({
      kind: 'progress',
      progress: { bestScore: 3, maxScore: 3, attempts: 2, solvedAt: expect.any(String) },
    });
    expect(updates.filter((u) => u.kind === 'test').length).toBe(4);
    const seqs = updates.map((u) => u.seq);
    expect(seqs).toEqual(seqs.map((_, i) => watched.seq + 1 + i));
    // The instructor follows the student's submission: same data, nothing hidden there either.
    const followed = await ok(teacher, 'run:watch', { runId: run.runId });
    expect(followed.run.result?.verdict).toBe('AC');
    // Nothing the student received holds the hidden test's input or expected output.
    await ok(student, 'session:get', { sessionId });
    await ok(student, 'run:watch', { runId: run.runId });
    const received =
      JSON.stringify([...everything.entries()]) +
      JSON.stringify(done) +
      JSON.stringify(await ok(student, 'run:watch', { runId: run.runId }));
    expect(received).toContain('visible-input');
    expect(received).not.toContain('SECRET');
    const res = await fetch(`${stack.url}/api/runs/${run.runId}`, {
      headers: { authorization: `Bearer ${await stack.token('student0-x')}` },
    });
    expect(res.status).toBe(403);
    // The results CSV has the student's best score.
    const admin = await stack.token('csv-admin', 'admin');
    const csv = await (
      await fetch(`${stack.url}/api/sessions/${sessionId}/results.csv`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).text();
    expect(csv.split('\r\n')[1]).toMatch(/,3,3,2,\d{4}-/);
  }, 120_000);

  it('refuses a submission without a problem, to a problem outside the session, and in a language the problem does not take', async () => {
    const { session, students, problem } = await classroom(1);
    const s = students[0];
    const sessionId = session.sessionId;
    await refused(
      s,
      'run:start',
      { language: 'python', source: '', mode: 'submit', sessionId },
      'INVALID',
    );
    const other = await classroom(0);
    await refused(
      s,
      'run:start',
      {
        language: 'python',
        source: '',
        mode: 'submit',
        sessionId,
        problemId: other.problem.problemId,
      },
      'NOT_FOUND',
    );
    await refused(
      s,
      'run:start',
      { language: 'python', source: '', mode: 'submit', problemId: other.problem.problemId },
      'NOT_FOUND',
    );
    await refused(
      s,
      'run:start',
      {
        language: 'javascript',
        source: '',
        mode: 'submit',
        sessionId,
        problemId: problem.problemId,
      },
      'UNSUPPORTED_LANGUAGE',
    );
  }, 60_000);
});

describe('results', () => {
  it('exports CSV with RFC 4180 quoting', async () => {
    const { teacher, session } = await classroom(0);
    const tricky = await stack.connect(await stack.token('Doe, "Jo"', 'student'));
    await ok(tricky, 'session:join', { joinCode: session.joinCode! });
    const token = await stack.token('teacher-csv', 'admin');
    const res = await fetch(`${stack.url}/api/sessions/${session.sessionId}/results.csv`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await res.text()).split('\r\n');
    expect(lines[0]).toBe(
      'user_id,name,problem_id,problem,best_score,max_score,attempts,solved_at',
    );
    expect(lines[1]).toContain('"dev:Doe, ""Jo""","Doe, ""Jo"""');
    expect(lines[1]).toMatch(/,0,3,0,$/);
    void teacher;
  }, 60_000);
});

export type { ProblemView, SessionView };
