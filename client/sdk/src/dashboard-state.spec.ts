import { describe, expect, it } from '@jest/globals';
import type { DashboardChange, DashboardUpdate } from '@coderoom/contracts';
import { applyDashboardUpdate, DASHBOARD_RUNS } from './dashboard-state.js';
import { dashboardRun, member, snapshot } from './testing/classroom.js';

/** An update of session s1 without its seq, one kind at a time. */
type Change = DashboardChange extends infer U
  ? U extends unknown
    ? Omit<U, 'sessionId'>
    : never
  : never;
const up = (u: Change, seq = 1): DashboardUpdate => ({ sessionId: 's1', seq, ...u });
const minute = (m: number) => `2024-01-01T00:${String(m).padStart(2, '0')}:00.000Z`;

describe('applyDashboardUpdate', () => {
  it('adds and updates members; an update without activity keeps the current one', () => {
    const busy = { ...member('bob'), activity: { runId: 'r1', status: 'running' as const } };
    const s0 = snapshot({ members: [{ ...member('ada', 'instructor'), activity: null }, busy] });
    const s1 = applyDashboardUpdate(
      s0,
      up({
        kind: 'member',
        member: { userId: 'bob', name: 'BOB', role: 'student', online: false },
      }),
    );
    expect(s1.members[1]).toEqual({ ...busy, online: false });
    const s2 = applyDashboardUpdate(
      s1,
      up({ kind: 'member', member: { ...member('bob'), activity: null } }),
    );
    expect(s2.members[1].activity).toBeNull();
    const s3 = applyDashboardUpdate(s2, up({ kind: 'member', member: member('cy') }));
    expect(s3.members.map((m) => m.userId)).toEqual(['ada', 'bob', 'cy']);
    expect(s3.members[2].activity).toBeNull();
    // Pure: the snapshots before are unchanged; untouched lists are shared.
    expect(s0.members[1]).toBe(busy);
    expect(s3.runs).toBe(s0.runs);
  });

  it('drops a member who left (removed: true)', () => {
    const s0 = snapshot({
      members: [
        { ...member('ada'), activity: null },
        { ...member('bob'), activity: null },
      ],
    });
    const s1 = applyDashboardUpdate(
      s0,
      up({ kind: 'member', member: member('ada'), removed: true }),
    );
    expect(s1.members.map((m) => m.userId)).toEqual(['bob']);
    expect(
      applyDashboardUpdate(s1, up({ kind: 'member', member: member('zed'), removed: true })),
    ).toBe(s1);
  });

  it("makes a run that is not finished its owner's activity, and ends it when it finishes", () => {
    const s0 = snapshot({ members: [{ ...member('bob'), activity: null }] });
    const running = dashboardRun('r1', minute(1), { status: 'running' });
    const s1 = applyDashboardUpdate(s0, up({ kind: 'run', run: running }));
    expect(s1.members[0].activity).toEqual({ runId: 'r1', status: 'running' });
    // The same status again: the members list is kept as it is.
    expect(applyDashboardUpdate(s1, up({ kind: 'run', run: running })).members).toBe(s1.members);
    // An older run finishing does not end the current one.
    const old = dashboardRun('r0', minute(0), { status: 'finished', verdict: 'OK' });
    expect(applyDashboardUpdate(s1, up({ kind: 'run', run: old })).members[0].activity).toEqual({
      runId: 'r1',
      status: 'running',
    });
    const done = dashboardRun('r1', minute(1), { status: 'finished', verdict: 'OK' });
    expect(applyDashboardUpdate(s1, up({ kind: 'run', run: done })).members[0].activity).toBeNull();
  });

  it('keeps runs newest first, updates a known run in place, and holds at most 200', () => {
    let s = snapshot();
    s = applyDashboardUpdate(s, up({ kind: 'run', run: dashboardRun('b', minute(2)) }));
    s = applyDashboardUpdate(s, up({ kind: 'run', run: dashboardRun('c', minute(3)) }));
    s = applyDashboardUpdate(s, up({ kind: 'run', run: dashboardRun('a', minute(1)) }));
    expect(s.runs.map((r) => r.runId)).toEqual(['c', 'b', 'a']);
    const finished = dashboardRun('b', minute(2), { status: 'finished', verdict: 'AC', score: 2 });
    s = applyDashboardUpdate(s, up({ kind: 'run', run: finished }));
    expect(s.runs.map((r) => r.runId)).toEqual(['c', 'b', 'a']);
    expect(s.runs[1]).toEqual(finished);

    let full = snapshot({
      runs: Array.from({ length: DASHBOARD_RUNS }, (_, i) =>
        dashboardRun(
          `old${i}`,
          new Date(Date.UTC(2023, 0, 1, 0, 0, DASHBOARD_RUNS - i)).toISOString(),
        ),
      ),
    });
    full = applyDashboardUpdate(full, up({ kind: 'run', run: dashboardRun('new', minute(5)) }));
    expect(full.runs).toHaveLength(DASHBOARD_RUNS);
    expect(full.runs[0].runId).toBe('new');
    expect(full.runs.at(-1)?.runId).toBe(`old${DASHBOARD_RUNS - 2}`);
  });

  it('upserts progress by (user, problem); a test update changes nothing', () => {
    const p = { userId: 'bob', problemId: 'p1', bestScore: 1, maxScore: 3, attempts: 1 };
    let s = applyDashboardUpdate(snapshot(), up({ kind: 'progress', progress: p }));
    s = applyDashboardUpdate(s, up({ kind: 'progress', progress: { ...p, problemId: 'p2' } }));
    s = applyDashboardUpdate(
      s,
      up({ kind: 'progress', progress: { ...p, bestScore: 3, attempts: 2, solvedAt: minute(9) } }),
    );
    expect(s.progress).toEqual([
      { ...p, bestScore: 3, attempts: 2, solvedAt: minute(9) },
      { ...p, problemId: 'p2' },
    ]);
    const test = { runId: 'r1', index: 0, verdict: 'AC' as const, timeMs: 1, hidden: true };
    expect(applyDashboardUpdate(s, up({ kind: 'test', userId: 'bob', test }))).toBe(s);
  });
});
