import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { startStack, until, type Stack } from '../../../server/test/harness.js';
import {
  CoderoomClient,
  type Dashboard,
  type DashboardUpdate,
  type ProblemView,
  type Role,
  type Session,
} from '../src/index.js';
import { CoderoomYjsProvider } from '../src/yjs/index.js';

// The classroom through the SDK against a real gateway and worker (API.md "Sessions
// (classroom), version 1.1"): an instructor creates a problem and a session, two students
// join, co-edit the shared document through CoderoomYjsProvider, submit, and the instructor's
// dashboard follows, also across reconnects.

let stack: Stack;
const cleanups: Array<() => void> = [];
/** Users are new on every run: the test database is kept between runs. */
const RUN = Date.now().toString(36);

// A distinctive hidden test: its input and expected output must never reach a student.
const HIDDEN_STDIN = '31337 11\n';
const HIDDEN_EXPECTED = '31348\n';
const SUM = 'a, b = map(int, input().split())\nprint(a + b)\n';

beforeAll(async () => {
  stack = await startStack({
    name: 'sdk-classroom',
    redisDb: 27,
    workerEnv: { WORKER_CONCURRENCY: '2' },
  });
}, 90_000);

afterAll(async () => {
  cleanups.splice(0).forEach((c) => c());
  await stack?.stop();
});

/** A connected client; `received` holds every packet it decoded (events and acks), as JSON. */
async function connect(name: string, role: Role = 'student') {
  const client = await CoderoomClient.connect(
    stack.url,
    { getToken: () => stack.token(`${name}-${RUN}`, role) },
    { transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500 },
  );
  const received: string[] = [];
  client.socket.io.on('packet', (packet) => received.push(JSON.stringify(packet.data ?? null)));
  cleanups.push(() => client.close());
  return { client, received, userId: `dev:${name}-${RUN}` };
}

/** A Y.Doc bound to a session; the text of `main.py` in the `files` map, as the web page keeps it. */
function bind(session: Session) {
  const doc = new Y.Doc();
  const awareness = new Awareness(doc);
  const provider = new CoderoomYjsProvider(session, doc, { awareness });
  const errors: string[] = [];
  provider.on('error', (e) => errors.push(e.code));
  cleanups.push(() => {
    provider.destroy();
    awareness.destroy();
  });
  const file = () => doc.getMap<Y.Text>('files').get('main.py');
  const text = () => file()?.toJSON() ?? '';
  return { doc, awareness, provider, errors, file, text };
}

/** Updates a dashboard applied, and whether it ever had to fall back to a snapshot. */
function record(dashboard: Dashboard) {
  const start = dashboard.seq;
  const updates: DashboardUpdate[] = [];
  let snapshots = 0;
  dashboard.on('update', (u) => updates.push(u));
  dashboard.on('snapshot', () => snapshots++);
  return {
    updates,
    snapshots: () => snapshots,
    /** Seqs of the updates applied since the watch: start + 1, start + 2, … (once each, no gap). */
    contiguous: () => updates.every((u, i) => u.seq === start + i + 1),
  };
}

describe('the classroom through the SDK', () => {
  let teacher: Awaited<ReturnType<typeof connect>>;
  let ann: Awaited<ReturnType<typeof connect>>;
  let ben: Awaited<ReturnType<typeof connect>>;
  let problem: ProblemView;
  let session: Session;
  let annSession: Session;
  let benSession: Session;
  let dashboard: Dashboard;
  let feed: ReturnType<typeof record>;

  beforeAll(async () => {
    teacher = await connect('teacher', 'instructor');
    ann = await connect('ann');
    ben = await connect('ben');
  }, 30_000);

  it('the instructor creates a problem (hidden test included for its author) and a session', async () => {
    problem = await teacher.client.createProblem({
      title: 'Sum of two numbers',
      statement: 'Read `a` and `b`, print `a + b`.',
      languages: ['python'],
      checker: 'tokens',
      tests: [
        { stdin: '1 2\n', expected: '3\n', points: 1 },
        { stdin: HIDDEN_STDIN, expected: HIDDEN_EXPECTED, points: 2, hidden: true },
      ],
    });
    expect(problem.maxScore).toBe(3);
    expect(problem.tests[1]).toMatchObject({ hidden: true, stdin: HIDDEN_STDIN, points: 2 });
    expect(await teacher.client.problem(problem.problemId)).toEqual(problem);

    session = await teacher.client.createSession({
      title: 'CS101, week 3',
      problemIds: [problem.problemId],
    });
    expect(session).toMatchObject({ status: 'open', role: 'instructor', readOnly: false });
    expect(session.joinCode).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$/);
    dashboard = await session.watchDashboard();
    feed = record(dashboard);
    expect(dashboard.snapshot.sessionId).toBe(session.id);
  }, 30_000);

  it('two students join with the code; presence shows them; a student sees no hidden data', async () => {
    annSession = await ann.client.joinSession(` ${session.joinCode!.toLowerCase()} `);
    benSession = await ben.client.joinSession(session.joinCode!);
    expect(annSession.id).toBe(session.id);
    expect(annSession.role).toBe('student');
    expect(annSession.joinCode).toBeUndefined();
    const hidden = annSession.problems[0].tests[1];
    expect(hidden).toMatchObject({ hidden: true, points: 2 });
    expect(hidden.stdin).toBeUndefined();
    expect(hidden.expected).toBeUndefined();
    await expect(ann.client.problem(problem.problemId)).resolves.toMatchObject({
      problemId: problem.problemId,
    });

    const online = (s: Session, userId: string) =>
      s.members.some((m) => m.userId === userId && m.online);
    await until(
      'the instructor sees both students online',
      () => online(session, ann.userId) && online(session, ben.userId),
    );
    await until('ann sees ben', () => online(annSession, ben.userId));
    await until('the dashboard lists both', () =>
      [ann.userId, ben.userId].every((u) => dashboard.snapshot.members.some((m) => m.userId === u)),
    );
    await expect(annSession.watchDashboard()).rejects.toMatchObject({ code: 'FORBIDDEN' });
  }, 30_000);

  it('the students co-edit the shared document through the provider and converge, across a reconnect', async () => {
    const t = bind(session);
    const a = bind(annSession);
    const b = bind(benSession);
    await until('all synced', () => t.provider.synced && a.provider.synced && b.provider.synced);
    // The instructor creates the file (one creator: a Y.Text made by two would be one of them).
    t.doc.getMap<Y.Text>('files').set('main.py', new Y.Text('# week 3\n'));
    await until(
      'the students have the file',
      () => a.file() !== undefined && b.file() !== undefined,
    );

    a.awareness.setLocalStateField('user', { name: 'ann' });
    await until('ben sees ann in awareness', () =>
      [...b.awareness.getStates().values()].some((s) => s.user?.name === 'ann'),
    );

    const tokens: string[] = [];
    const type = (who: ReturnType<typeof bind>, token: string) => {
      tokens.push(token);
      const file = who.file()!;
      const current = file.toJSON();
      const ends = [0, ...[...current].flatMap((c, i) => (c === ';' ? [i + 1] : []))];
      file.insert(ends[Math.floor(Math.random() * ends.length)], token);
    };
    for (let i = 0; i < 60; i++) {
      type(a, `a${i};`);
      type(b, `b${i};`);
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      if (i === 30) ben.client.socket.io.engine.close(); // ben keeps typing while offline
    }
    await until('ben is back', () => ben.client.connected && b.provider.synced, 20_000);
    await Promise.all([a.provider.flush(), b.provider.flush()]);
    await until(
      'the three documents are the same',
      () => a.text() === b.text() && a.text() === t.text(),
      20_000,
    );
    for (const token of tokens) expect(t.text()).toContain(token);
    expect([...a.errors, ...b.errors, ...t.errors]).toEqual([]);

    // A late joiner (a second tab of ann's) gets the whole text from the server.
    const annTab = await connect('ann');
    const late = bind(await annTab.client.session(session.id));
    await until('the late joiner is up to date', () => late.text() === t.text(), 20_000);
  }, 90_000);

  it('a student submits: tests, score and verdict reach the student and the dashboard, hidden data only the instructor', async () => {
    const run = await annSession.run({
      mode: 'submit',
      problemId: problem.problemId,
      language: 'python',
      source: SUM,
    });
    const result = await run.result;
    expect(result).toMatchObject({ verdict: 'AC', score: 3, maxScore: 3 });
    expect(run.tests).toHaveLength(2);
    expect(run.tests[0]).toMatchObject({
      index: 0,
      verdict: 'AC',
      hidden: false,
      points: 1,
      stdin: '1 2\n',
      expected: '3\n',
      actual: '3\n',
    });
    expect(run.tests[1]).toMatchObject({ index: 1, verdict: 'AC', hidden: true, points: 2 });
    for (const field of ['stdin', 'expected', 'actual'])
      expect(run.tests[1]).not.toHaveProperty(field);

    await until('the dashboard has the finished submission', () =>
      dashboard.snapshot.runs.some(
        (r) => r.runId === run.id && r.status === 'finished' && r.verdict === 'AC',
      ),
    );
    expect(dashboard.snapshot.runs.find((r) => r.runId === run.id)).toMatchObject({
      userId: ann.userId,
      mode: 'submit',
      problemId: problem.problemId,
      score: 3,
    });
    await until('the dashboard has both tests', () => dashboard.tests(run.id).length === 2);
    await until('the progress of ann', () =>
      dashboard.snapshot.progress.some(
        (p) => p.userId === ann.userId && p.bestScore === 3 && p.solvedAt !== undefined,
      ),
    );
    expect(dashboard.snapshot.progress.find((p) => p.userId === ann.userId)).toMatchObject({
      problemId: problem.problemId,
      maxScore: 3,
      attempts: 1,
    });
    // Each update once, in order, no gap; the snapshot is as of the last one.
    expect(feed.contiguous()).toBe(true);
    expect(dashboard.seq).toBe(feed.updates.at(-1)?.seq);
  }, 60_000);

  it('a program printing its stdin on a hidden test leaks nothing to the student', async () => {
    const run = await benSession.run({
      mode: 'submit',
      problemId: problem.problemId,
      language: 'python',
      source: 'import sys\ns = sys.stdin.read()\nprint(s)\nprint(s, file=sys.stderr)\n',
    });
    const result = await run.result;
    expect(result.verdict).toBe('WA');
    expect(result.score).toBe(0);
    await until("the dashboard has ben's submission", () =>
      dashboard.snapshot.runs.some((r) => r.runId === run.id && r.status === 'finished'),
    );
    for (const student of [ann, ben]) {
      const everything = student.received.join('\n');
      expect(everything).not.toContain('31337');
      expect(everything).not.toContain('31348');
    }
  }, 60_000);

  it('the dashboard resumes after the instructor reconnects: every update once, none missed', async () => {
    const before = dashboard.seq;
    teacher.client.socket.io.engine.close();
    const run = await benSession.run({
      mode: 'submit',
      problemId: problem.problemId,
      language: 'python',
      source: SUM,
    });
    await run.result;
    await until(
      'the dashboard has the submission made while it was away',
      () =>
        dashboard.snapshot.runs.some(
          (r) => r.runId === run.id && r.status === 'finished' && r.verdict === 'AC',
        ),
      20_000,
    );
    expect(dashboard.seq).toBeGreaterThan(before);
    expect(feed.snapshots()).toBe(0); // replayed, not replaced
    expect(feed.contiguous()).toBe(true);
    expect(dashboard.snapshot.progress.find((p) => p.userId === ben.userId)).toMatchObject({
      bestScore: 3,
      attempts: 2,
    });
  }, 60_000);

  it("a lock makes a student's edit FORBIDDEN (reported, kept); the unlock sends it", async () => {
    const t = bind(session);
    const b = bind(benSession);
    await until('synced', () => t.provider.synced && b.provider.synced && b.file() !== undefined);
    await session.lock(true);
    b.file()!.insert(0, 'typed while locked;');
    await until('refused', () => b.errors.includes('FORBIDDEN'));
    expect(b.provider.blocked?.code).toBe('FORBIDDEN');
    await until('ben learns the lock', () => benSession.readOnly);
    expect(benSession.canEdit).toBe(false);
    t.file()!.insert(0, 'the instructor may;');
    await until('the instructor edit reaches ben', () => b.text().includes('the instructor may;'));
    expect(t.text()).not.toContain('typed while locked;');

    // The unlock is pushed (session:locked): the provider resumes by itself.
    await session.lock(false);
    await until('ben hears of the unlock', () => !benSession.readOnly);
    await b.provider.flush();
    await until('the kept edit arrives', () => t.text().includes('typed while locked;'));
  }, 60_000);

  it('broadcast and share reach the members; a closed session is closed for all', async () => {
    const broadcasts: string[] = [];
    annSession.on('broadcast', (e) => broadcasts.push(e.files[0]?.content ?? ''));
    await session.broadcast({ language: 'python', source: 'print("look here")\n' });
    await until('ann gets the broadcast', () => broadcasts.includes('print("look here")\n'));

    const run = await benSession.run({ language: 'python', source: 'print("shared")' });
    await run.result;
    await expect(ann.client.watch(run.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const shared: string[] = [];
    annSession.on('shared', (e) => shared.push(e.runId));
    await benSession.share(run);
    await until('ann hears of it', () => shared.includes(run.id));
    const watched = await ann.client.watch(run.id);
    expect((await watched.result).verdict).toBe('OK');
    expect(watched.text()).toBe('shared\n');

    let closed = false;
    annSession.on('closed', () => (closed = true));
    const code = session.joinCode!;
    await session.close();
    expect(session.status).toBe('closed');
    await until('ann hears the session closed', () => closed && annSession.status === 'closed');
    const late = await connect('cy');
    const refused = await late.client.joinSession(code).catch((e: unknown) => e);
    expect(['NOT_FOUND', 'CONFLICT']).toContain((refused as { code?: string }).code);
    await expect(annSession.run({ language: 'python', source: 'print(1)' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
  }, 60_000);
});
