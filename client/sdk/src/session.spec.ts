import { describe, expect, it } from '@jest/globals';
import type { CoderoomError } from './errors.js';
import { fakeClient, fakeClientIn, flush, member, sessionView } from './testing/classroom.js';

const connected = () => fakeClient();

/** A client holding session s1 (created by this user, an instructor). */
const inSession = (view = sessionView()) => fakeClientIn(view, 'session:create');

describe('sessions: create, join, get', () => {
  it('creates a session: its view, join code and role; the client holds it', async () => {
    const { client, socket, session } = await inSession();
    expect(socket.last('session:create').payload).toEqual({ title: 'CS101' });
    expect(session.id).toBe('s1');
    expect(session).toMatchObject({ title: 'CS101', status: 'open', role: 'instructor' });
    expect(session.joinCode).toBe('ABC234');
    expect(session.canEdit).toBe(true);
    expect(client.sessions).toEqual([session]);
    client.close();
  });

  it('joins with a code, and session(id) returns the same handle with a fresh view', async () => {
    const { client, socket } = await connected();
    const joining = client.joinSession('abc234');
    expect(socket.last('session:join').payload).toEqual({ joinCode: 'abc234' });
    socket.last('session:join').answer({
      ok: true,
      session: sessionView({ role: 'student', joinCode: undefined }),
    });
    const session = await joining;
    expect(session.role).toBe('student');
    const views: string[] = [];
    session.on('view', (v) => views.push(v.title));
    const again = client.session('s1');
    socket.last('session:get').answer({
      ok: true,
      session: sessionView({ role: 'student', title: 'CS101 (renamed)' }),
    });
    expect(await again).toBe(session);
    expect(session.title).toBe('CS101 (renamed)');
    expect(views).toEqual(['CS101 (renamed)']);
    client.close();
  });

  it('turns refusals into CoderoomErrors and a malformed answer into INTERNAL', async () => {
    const { client, socket } = await connected();
    const unknown = client.joinSession('ZZZZZZ');
    socket.last('session:join').answer({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'no open session has this join code' },
    });
    await expect(unknown).rejects.toMatchObject({ code: 'NOT_FOUND', source: 'server' });
    const odd = client.session('s1');
    socket.last('session:get').answer({ ok: true, session: null });
    await expect(odd).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(client.sessions).toEqual([]);
    client.close();
  });
});

describe('sessions: live events', () => {
  it('keeps members from session:presence, routed by sessionId', async () => {
    const { client, socket, session } = await inSession();
    const seen: string[][] = [];
    session.on('presence', (members) => seen.push(members.map((m) => m.userId)));
    const members = [member('ada', 'instructor'), member('bob'), member('cy', 'student', false)];
    socket.fire('session:presence', { sessionId: 'other', members: [] });
    socket.fire('session:presence', { sessionId: 's1', members });
    expect(seen).toEqual([['ada', 'bob', 'cy']]);
    expect(session.members).toEqual(members);
    expect(session.view.members).toBe(session.members);
    client.close();
  });

  it('reports closed once, broadcasts and shares', async () => {
    const { client, socket, session } = await inSession();
    const events: unknown[] = [];
    session.on('closed', () => events.push('closed'));
    session.on('broadcast', (e) => events.push(e.files));
    session.on('shared', (e) => events.push(e.runId));
    const from = { userId: 'ada', name: 'Ada' };
    const files = [{ path: 'main.py', content: 'print(1)' }];
    socket.fire('session:broadcast', { sessionId: 's1', from, language: 'python', files });
    socket.fire('session:shared', { sessionId: 's1', runId: 'r9', userId: 'bob' });
    socket.fire('session:closed', { sessionId: 's1' });
    socket.fire('session:closed', { sessionId: 's1' });
    expect(events).toEqual([files, 'r9', 'closed']);
    expect(session.status).toBe('closed');
    expect(session.canEdit).toBe(false);
    client.close();
  });

  it('follows session:locked pushes: readOnly, canEdit, and locked (with who) on changes only', async () => {
    const { client, socket, session } = await inSession(sessionView({ role: 'student' }));
    const locks: unknown[] = [];
    session.on('locked', (readOnly, by) => locks.push([readOnly, by?.name ?? null]));
    const grace = { userId: 'grace', name: 'Grace' };
    socket.fire('session:locked', { sessionId: 'other', readOnly: true, by: grace });
    expect(session.readOnly).toBe(false);
    socket.fire('session:locked', { sessionId: 's1', readOnly: true, by: grace });
    expect(session.readOnly).toBe(true);
    expect(session.canEdit).toBe(false);
    expect(session.view.readOnly).toBe(true);
    // Locked again: nothing changed, no event.
    socket.fire('session:locked', { sessionId: 's1', readOnly: true, by: grace });
    socket.fire('session:locked', { sessionId: 's1', readOnly: false, by: grace });
    expect(session.canEdit).toBe(true);
    expect(locks).toEqual([
      [true, 'Grace'],
      [false, 'Grace'],
    ]);
    client.close();
  });
});

describe('sessions: instructor actions', () => {
  it('sends lock, instructors, broadcast, share and close with the session id', async () => {
    const { client, socket, session } = await inSession();
    const locks: boolean[] = [];
    session.on('locked', (ro) => locks.push(ro));
    const answerLast = (event: string) => socket.last(event).answer({ ok: true });

    const lock = session.lock(true);
    answerLast('session:lock');
    await lock;
    expect(session.readOnly).toBe(true);
    expect(locks).toEqual([true]);

    const instructors = session.setInstructors({ add: ['cy'], remove: ['dee'] });
    answerLast('session:instructors');
    await instructors;
    const broadcast = session.broadcast({ language: 'python', source: 'print(1)' });
    answerLast('session:broadcast');
    await broadcast;
    const share = session.share('r1');
    answerLast('session:share');
    await share;
    const close = session.close();
    answerLast('session:close');
    await close;

    expect(socket.requests.slice(1).map((r) => [r.event, r.payload])).toEqual([
      ['session:lock', { sessionId: 's1', readOnly: true }],
      ['session:instructors', { sessionId: 's1', add: ['cy'], remove: ['dee'] }],
      ['session:broadcast', { sessionId: 's1', language: 'python', source: 'print(1)' }],
      ['session:share', { sessionId: 's1', runId: 'r1' }],
      ['session:close', { sessionId: 's1' }],
    ]);
    expect(session.status).toBe('closed');
    client.close();
  });

  it('a refused action throws and changes nothing', async () => {
    const { client, socket, session } = await inSession(sessionView({ role: 'student' }));
    const lock = session.lock(true);
    socket.last('session:lock').answer({
      ok: false,
      error: { code: 'FORBIDDEN', message: 'instructors only' },
    });
    await expect(lock).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(session.readOnly).toBe(false);
    client.close();
  });

  it('leave() ends the handle: ended event, no longer held, events ignored', async () => {
    const { client, socket, session } = await inSession();
    const ended: CoderoomError[] = [];
    session.on('ended', (r) => ended.push(r));
    const leaving = session.leave();
    socket.last('session:leave').answer({ ok: true });
    await leaving;
    expect(ended.map((e) => e.code)).toEqual(['CLOSED']);
    expect(session.done).toBe(true);
    expect(session.error).toBeNull();
    expect(client.sessions).toEqual([]);
    socket.fire('session:closed', { sessionId: 's1' });
    expect(session.status).toBe('open');
    client.close();
  });
});

describe('sessions: runs and submissions', () => {
  it('session.run() starts a submission in the session; tests and score come through', async () => {
    const { client, socket, session } = await inSession();
    const starting = session.run({
      language: 'python',
      source: 'print(input())',
      mode: 'submit',
      problemId: 'p1',
    });
    expect(socket.last('run:start').payload).toEqual({
      language: 'python',
      source: 'print(input())',
      mode: 'submit',
      problemId: 'p1',
      sessionId: 's1',
    });
    socket.last('run:start').answer({ ok: true, runId: 'r1', status: 'queued', position: 1 });
    const run = await starting;
    const visible = {
      runId: 'r1',
      index: 0,
      verdict: 'AC' as const,
      timeMs: 12,
      points: 1,
      maxPoints: 1,
      hidden: false,
      stdin: '1 2\n',
      expected: '3\n',
      actual: '3\n',
    };
    const hidden = {
      runId: 'r1',
      index: 1,
      verdict: 'WA' as const,
      timeMs: 9,
      points: 0,
      maxPoints: 2,
      hidden: true,
    };
    const tests: unknown[] = [];
    run.on('test', (t) => tests.push(t));
    socket.fire('run:test', visible);
    socket.fire('run:finished', {
      runId: 'r1',
      verdict: 'WA',
      exitCode: 0,
      signal: null,
      timeMs: 30,
      memoryKb: 1000,
      truncated: false,
      tests: [visible, hidden],
      score: 1,
      maxScore: 3,
    });
    const result = await run.result;
    expect(result).toMatchObject({ verdict: 'WA', score: 1, maxScore: 3 });
    // The test missed live is taken from the result; each one once.
    expect(tests).toEqual([visible, hidden]);
    expect(run.tests).toEqual([visible, hidden]);
    client.close();
  });
});

describe('sessions: problems', () => {
  it('creates and reads problems', async () => {
    const { client, socket } = await connected();
    const problem = {
      problemId: 'p1',
      title: 'Sum',
      statement: 'Add.',
      languages: ['python'],
      starter: {},
      limits: {},
      checker: 'tokens' as const,
      maxScore: 1,
      tests: [{ index: 0, points: 1, hidden: false, stdin: '1 2\n', expected: '3\n' }],
    };
    const creating = client.createProblem({
      title: 'Sum',
      statement: 'Add.',
      checker: 'tokens',
      tests: [{ stdin: '1 2\n', expected: '3\n' }],
    });
    expect(socket.last('problem:create').payload).toMatchObject({ title: 'Sum' });
    socket.last('problem:create').answer({ ok: true, problem });
    expect(await creating).toEqual(problem);
    const reading = client.problem('p1');
    expect(socket.last('problem:get').payload).toEqual({ problemId: 'p1' });
    socket.last('problem:get').answer({ ok: true, problem });
    expect(await reading).toEqual(problem);
    client.close();
  });
});

describe('sessions: reconnects', () => {
  it('re-enters every session with session:get and takes its view (lock seen)', async () => {
    const { client, socket, session } = await inSession(sessionView({ role: 'student' }));
    const locks: boolean[] = [];
    session.on('locked', (ro) => locks.push(ro));
    const onlines: number[] = [];
    session.document.on('online', () => onlines.push(1));
    expect(session.document.ready).toBe(true);
    socket.drop('transport close');
    expect(session.document.ready).toBe(false);
    await socket.handshake();
    expect(session.document.ready).toBe(false); // not in the session until the answer
    const get = socket.last('session:get');
    expect(get.payload).toEqual({ sessionId: 's1' });
    get.answer({ ok: true, session: sessionView({ role: 'student', readOnly: true }) });
    await flush();
    expect(locks).toEqual([true]);
    expect(session.canEdit).toBe(false);
    expect(session.document.ready).toBe(true);
    expect(onlines).toEqual([1]);
    client.close();
  });

  it('retries a re-entry that failed for a transient reason', async () => {
    const { client, socket, session } = await inSession();
    socket.drop('transport close');
    await socket.handshake();
    socket.last('session:get').answer({
      ok: false,
      error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 1 },
    });
    await flush(600); // the first retry waits 0.5 s
    expect(socket.pending('session:get')).toHaveLength(1);
    socket.last('session:get').answer({ ok: true, session: sessionView() });
    await flush();
    expect(session.document.ready).toBe(true);
    expect(session.done).toBe(false);
    client.close();
  });

  it('ends a session whose re-entry is refused (removed meanwhile): error, then ended', async () => {
    const { client, socket, session } = await inSession(sessionView({ role: 'student' }));
    const events: string[] = [];
    session.on('error', (e) => events.push(`error ${e.code}`));
    session.on('ended', (e) => events.push(`ended ${e.code}`));
    socket.drop('transport close');
    await socket.handshake();
    socket.last('session:get').answer({
      ok: false,
      error: { code: 'FORBIDDEN', message: 'not a member' },
    });
    await flush();
    expect(events).toEqual(['error FORBIDDEN', 'ended FORBIDDEN']);
    expect(session.error?.code).toBe('FORBIDDEN');
    expect(client.sessions).toEqual([]);
    client.close();
  });

  it('client.close() ends every session with CLOSED', async () => {
    const { client, session } = await inSession();
    const ended: string[] = [];
    session.on('ended', (e) => ended.push(e.code));
    client.close();
    expect(ended).toEqual(['CLOSED']);
    expect(session.document.ended).toBe(true);
    await expect(session.watchDashboard()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
