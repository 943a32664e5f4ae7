import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Role } from '@coderoom/contracts';
import {
  okEvent as ok,
  refusedEvent as refused,
  runToEnd,
  startStack,
  until,
  type ClientSocket,
  type Stack,
} from './harness.js';

// The reads behind the instructor's screens, through the real path (gateway, worker, Redis,
// FerretDB): `problem:list` / `GET /api/problems` (the problem picker), `dashboard:code` (a
// followed student's program) and the test verdicts a dashboard snapshot carries per submission
// (the class summary's "which test fails most").
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ name: 'instructor-views', redisDb: 53 });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

/** Users are new on every run: the test database is kept between runs. */
const RUN = Date.now().toString(36);
let users = 0;
const named = (name: string) => `${name}-${RUN}-${++users}`;
async function user(name: string, role: Role = 'student'): Promise<ClientSocket> {
  return stack.connect(await stack.token(named(name), role));
}

const problem = (title: string) => ({
  title,
  statement: 'Print your input twice.',
  languages: ['python'],
  tests: [
    { stdin: 'a\n', expected: 'a\na\n' },
    { stdin: 'HIDDEN-IN\n', expected: 'HIDDEN-IN\nHIDDEN-IN\n', hidden: true },
  ],
});

describe('problem:list', () => {
  it("lists the sender's own problems, newest first, hidden tests included; refuses students", async () => {
    const teacherName = named('lister');
    const teacher = await stack.connect(await stack.token(teacherName, 'instructor'));
    const other = await user('other-teacher', 'instructor');
    const first = (await ok(teacher, 'problem:create', problem('First'))).problem;
    const second = (await ok(teacher, 'problem:create', problem('Second'))).problem;
    await ok(other, 'problem:create', problem("Someone else's"));

    const { problems } = await ok(teacher, 'problem:list', {});
    expect(problems.map((p) => p.problemId)).toEqual([second.problemId, first.problemId]);
    expect(problems[0].tests[1]).toMatchObject({ hidden: true, stdin: 'HIDDEN-IN\n' });
    const theirs = (await ok(other, 'problem:list', {})).problems.map((p) => p.title);
    expect(theirs).toEqual(["Someone else's"]);

    const student = await user('curious');
    await refused(student, 'problem:list', {}, 'FORBIDDEN');
    await refused(student, 'problem:create', problem('Not mine to write'), 'FORBIDDEN');

    // HTTP, same rules.
    const get = async (role: Role, name: string) =>
      fetch(`${stack.url}/api/problems`, {
        headers: { authorization: `Bearer ${await stack.token(name, role)}` },
      });
    const res = await get('instructor', teacherName);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; problems: { title: string }[] };
    expect(body.ok).toBe(true);
    expect(body.problems.map((p) => p.title)).toEqual(['Second', 'First']);
    expect((await get('student', named('curious-http'))).status).toBe(403);
  }, 60_000);
});

describe('dashboard:code and the tests of a snapshot', () => {
  it("gives a session's instructors a student's program and every test verdict; refuses students", async () => {
    const teacher = await user('coach', 'instructor');
    const p = (await ok(teacher, 'problem:create', problem('Twice'))).problem;
    const { session } = await ok(teacher, 'session:create', {
      title: 'Code reading',
      problemIds: [p.problemId],
    });
    const sessionId = session.sessionId;
    const [ann, bob] = [await user('ann'), await user('bob')];
    for (const s of [ann, bob]) await ok(s, 'session:join', { joinCode: session.joinCode! });

    // Right on the visible test, wrong on the hidden one: the submission is WA on test 1.
    const source = 'x = input()\nprint(x)\nprint(x if x == "a" else "nope")\n';
    const sub = await runToEnd(
      ann,
      { language: 'python', source, mode: 'submit', problemId: p.problemId, sessionId },
      60_000,
    );
    expect(sub.finished.verdict).toBe('WA');

    const code = await ok(teacher, 'dashboard:code', { sessionId, runId: sub.runId });
    expect(code.files).toEqual([{ path: 'main.py', content: source }]);
    expect(code.language).toBe('python');
    expect(code.userId).toContain(':ann-');

    // Students may not read it, not even the program's author, through this event.
    await refused(bob, 'dashboard:code', { sessionId, runId: sub.runId }, 'FORBIDDEN');
    await refused(ann, 'dashboard:code', { sessionId, runId: sub.runId }, 'FORBIDDEN');
    // An instructor of another session may not read this session's runs through theirs.
    const stranger = await user('stranger', 'instructor');
    const theirs = (await ok(stranger, 'session:create', { title: 'Elsewhere' })).session;
    await refused(
      stranger,
      'dashboard:code',
      { sessionId: theirs.sessionId, runId: sub.runId },
      'NOT_FOUND',
    );
    await refused(stranger, 'dashboard:code', { sessionId, runId: sub.runId }, 'FORBIDDEN');

    // The dashboard's snapshot carries the submission's verdict per test, hidden ones too.
    let tests: unknown;
    await until('the finished submission in the snapshot', async () => {
      const { snapshot } = await ok(teacher, 'dashboard:watch', { sessionId });
      const run = snapshot.runs.find((r) => r.runId === sub.runId);
      tests = run?.tests;
      return run?.status === 'finished';
    });
    expect(tests).toEqual([
      { index: 0, verdict: 'AC', hidden: false },
      { index: 1, verdict: 'WA', hidden: true },
    ]);
  }, 120_000);
});
