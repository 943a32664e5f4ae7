import { describe, expect, it } from '@jest/globals';
import type { DashboardUpdate } from '@coderoom/contracts';
import type { DashboardOptions } from './dashboard.js';
import {
  dashboardRun,
  fakeClientIn,
  flush,
  member,
  sessionView,
  snapshot,
} from './testing/classroom.js';

const runUpdate = (seq: number, runId = `r${seq}`): DashboardUpdate => ({
  sessionId: 's1',
  seq,
  kind: 'run',
  run: dashboardRun(runId, new Date(Date.UTC(2024, 0, 1, 0, seq)).toISOString()),
});
const testUpdate = (seq: number, runId: string, index: number): DashboardUpdate => ({
  sessionId: 's1',
  seq,
  kind: 'test',
  userId: 'bob',
  test: { runId, index, verdict: 'AC', timeMs: 3, points: 1, maxPoints: 1, hidden: true },
});

/** An instructor's client in session s1, watching its dashboard (answered with seq `seq`). */
async function watching(seq = 0, options: DashboardOptions = {}) {
  const { client, socket, session } = await fakeClientIn(sessionView());
  const watch = session.watchDashboard(options);
  expect(socket.last('dashboard:watch').payload).toEqual({ sessionId: 's1' });
  socket.last('dashboard:watch').answer({
    ok: true,
    snapshot: snapshot({ members: [{ ...member('bob'), activity: null }] }),
    seq,
  });
  const dashboard = await watch;
  const applied: number[] = [];
  dashboard.on('update', (u) => applied.push(u.seq));
  const fire = (...updates: DashboardUpdate[]) =>
    updates.forEach((u) => socket.fire('dashboard:update', u));
  return { client, socket, session, dashboard, applied, fire };
}

describe('Dashboard: live updates', () => {
  it('applies updates in seq order, each once, and keeps the runs and their tests', async () => {
    const { client, socket, dashboard, applied, fire } = await watching(10);
    expect(dashboard.seq).toBe(10);
    fire(runUpdate(10), runUpdate(11), testUpdate(12, 'r11', 0), runUpdate(11));
    fire(testUpdate(13, 'r11', 1), testUpdate(13, 'r11', 1));
    fire({ ...runUpdate(14, 'other'), sessionId: 'elsewhere' });
    expect(applied).toEqual([11, 12, 13]);
    expect(socket.pending('dashboard:watch')).toHaveLength(0); // duplicates are no gap
    expect(dashboard.seq).toBe(13);
    expect(dashboard.snapshot.runs.map((r) => r.runId)).toEqual(['r11']);
    expect(dashboard.tests('r11').map((t) => t.index)).toEqual([0, 1]);
    client.close();
  });

  it('holds updates that came before the watch answer; drops those the snapshot has', async () => {
    const { client, socket, session } = await fakeClientIn(sessionView());
    const watch = session.watchDashboard();
    socket.fire('dashboard:update', runUpdate(5));
    socket.fire('dashboard:update', runUpdate(6));
    socket.last('dashboard:watch').answer({ ok: true, snapshot: snapshot({ runs: [] }), seq: 5 });
    const dashboard = await watch;
    expect(dashboard.seq).toBe(6);
    expect(dashboard.snapshot.runs.map((r) => r.runId)).toEqual(['r6']);
    expect(await session.watchDashboard()).toBe(dashboard);
    client.close();
  });

  it('a gap makes it watch again from its seq; the replay fills it in order', async () => {
    const { client, socket, dashboard, applied, fire } = await watching(0);
    fire(runUpdate(1), runUpdate(3), runUpdate(4));
    expect(applied).toEqual([1]);
    const rewatch = socket.last('dashboard:watch');
    expect(rewatch.payload).toEqual({ sessionId: 's1', afterSeq: 1 });
    fire(runUpdate(5)); // one watch at a time
    expect(socket.pending('dashboard:watch')).toHaveLength(1);
    rewatch.answer({ ok: true, snapshot: snapshot(), seq: 5 });
    fire(runUpdate(2), runUpdate(3));
    expect(applied).toEqual([1, 2, 3, 4, 5]);
    expect(dashboard.snapshot.runs.map((r) => r.runId)).toEqual(['r5', 'r4', 'r3', 'r2', 'r1']);
    client.close();
  });

  it('unwatch() stops it and tells the server', async () => {
    const { client, socket, session, dashboard, applied, fire } = await watching(0);
    const stopping = dashboard.unwatch();
    expect(socket.last('dashboard:unwatch').payload).toEqual({ sessionId: 's1' });
    socket.last('dashboard:unwatch').answer({ ok: true });
    await stopping;
    fire(runUpdate(1));
    expect(applied).toEqual([]);
    expect(dashboard.done).toBe(true);
    expect(session.dashboard).toBeNull();
    client.close();
  });

  it('a student is refused: watchDashboard rejects with FORBIDDEN', async () => {
    const { client, socket, session } = await fakeClientIn(
      sessionView({ role: 'student' }),
      'session:join',
    );
    const watch = session.watchDashboard();
    socket.last('dashboard:watch').answer({
      ok: false,
      error: { code: 'FORBIDDEN', message: 'instructors only' },
    });
    await expect(watch).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(session.dashboard).toBeNull();
    client.close();
  });
});

describe('Dashboard: reconnects', () => {
  it('re-enters the session, then watches from its seq: missed updates replayed, none twice', async () => {
    const { client, socket, dashboard, applied, fire } = await watching(3);
    fire(runUpdate(4));
    socket.drop('transport close');
    await socket.handshake();
    expect(socket.pending('dashboard:watch')).toHaveLength(0); // after the session's re-entry
    socket.last('session:get').answer({ ok: true, session: sessionView() });
    await flush();
    const rewatch = socket.last('dashboard:watch');
    expect(rewatch.payload).toEqual({ sessionId: 's1', afterSeq: 4 });
    fire(runUpdate(8)); // live, before the answer: held
    rewatch.answer({ ok: true, snapshot: snapshot(), seq: 7 });
    fire(runUpdate(5), runUpdate(6), runUpdate(7), runUpdate(8), runUpdate(9));
    expect(applied).toEqual([4, 5, 6, 7, 8, 9]);
    expect(dashboard.seq).toBe(9);
    client.close();
  });

  it('takes the answer snapshot when the server cannot replay what was missed', async () => {
    const { client, socket, dashboard, applied, fire } = await watching(3, { replayWaitMs: 20 });
    const snapshots: number[] = [];
    dashboard.on('snapshot', (s) => snapshots.push(s.runs.length));
    socket.drop('transport close');
    await socket.handshake();
    socket.last('session:get').answer({ ok: true, session: sessionView() });
    await flush();
    const later = snapshot({ runs: [dashboardRun('x'), dashboardRun('y')] });
    socket.last('dashboard:watch').answer({ ok: true, snapshot: later, seq: 40 });
    fire(runUpdate(41)); // live; 4..40 never come
    expect(applied).toEqual([]);
    await flush(60);
    expect(snapshots).toEqual([2]);
    expect(applied).toEqual([41]);
    expect(dashboard.seq).toBe(41);
    expect(dashboard.snapshot.runs.map((r) => r.runId)).toEqual(['r41', 'x', 'y']);
    fire(runUpdate(40), runUpdate(41));
    expect(applied).toEqual([41]);
    client.close();
  });

  it('retries a re-watch refused for a transient reason; stops on FORBIDDEN', async () => {
    const { client, socket, dashboard, fire } = await watching(0);
    const errors: string[] = [];
    dashboard.on('error', (e) => errors.push(e.code));
    fire(runUpdate(2));
    socket.last('dashboard:watch').answer({
      ok: false,
      error: { code: 'BUSY', message: 'busy', retryAfterMs: 1 },
    });
    await flush(600);
    expect(socket.last('dashboard:watch').answered).toBe(false);
    socket.last('dashboard:watch').answer({
      ok: false,
      error: { code: 'FORBIDDEN', message: 'no longer an instructor' },
    });
    await flush();
    expect(errors).toEqual(['FORBIDDEN']);
    expect(dashboard.done).toBe(true);
    expect(dashboard.error?.code).toBe('FORBIDDEN');
    client.close();
  });
});
