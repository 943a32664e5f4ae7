import { describe, expect, it } from '@jest/globals';
import type { DashboardSnapshot, RunTestEvent } from '@coderoom/sdk';
import {
  classSummary,
  dashboardRows,
  filterRows,
  sortRows,
  testsOfRun,
  type DashboardRow,
} from './dashboard-rows.js';
import { activityText, colorFor } from './classroom.js';

const at = '2026-12-05T09:00:00.000Z';
const snapshot: DashboardSnapshot = {
  sessionId: 's1',
  members: [
    { userId: 't', name: 'teacher', role: 'instructor', online: true, activity: null },
    {
      userId: 'a',
      name: 'ann',
      role: 'student',
      online: true,
      activity: { runId: 'r3', status: 'running' },
    },
    { userId: 'b', name: 'bob', role: 'student', online: false, activity: null },
  ],
  // Newest first.
  runs: [
    { runId: 'r3', userId: 'a', language: 'python', mode: 'run', status: 'running', createdAt: at },
    {
      runId: 'r2',
      userId: 'a',
      language: 'python',
      mode: 'submit',
      problemId: 'p1',
      status: 'finished',
      verdict: 'WA',
      score: 1,
      maxScore: 3,
      createdAt: at,
    },
    {
      runId: 'r1',
      userId: 'a',
      language: 'python',
      mode: 'submit',
      problemId: 'p1',
      status: 'finished',
      verdict: 'AC',
      score: 3,
      maxScore: 3,
      createdAt: at,
    },
  ],
  progress: [
    { userId: 'a', problemId: 'p1', bestScore: 3, maxScore: 3, attempts: 2, solvedAt: at },
    { userId: 'a', problemId: 'gone', bestScore: 0, maxScore: 1, attempts: 1 },
  ],
};
const test = (index: number, verdict: 'AC' | 'WA'): RunTestEvent => ({
  runId: 'r2',
  index,
  verdict,
  timeMs: 5,
  hidden: index === 1,
});

describe('dashboardRows', () => {
  it('has one row per student: status, the latest verdict and submission tests, scores per problem', () => {
    const rows = dashboardRows(snapshot, [{ problemId: 'p1' }], (runId) =>
      runId === 'r2' ? [test(1, 'WA'), test(0, 'AC')] : [],
    );
    expect(rows.map((r) => r.name)).toEqual(['ann', 'bob']);
    const [ann, bob] = rows;
    expect(ann.lastVerdict).toBe('WA');
    expect(ann.lastTests.map((t) => [t.index, t.verdict])).toEqual([
      [0, 'AC'],
      [1, 'WA'],
    ]);
    expect(ann.scores).toEqual({ p1: { bestScore: 3, maxScore: 3, attempts: 2, solved: true } });
    expect(activityText(ann)).toBe('running');
    expect(bob).toMatchObject({ lastVerdict: null, lastTests: [], scores: {}, online: false });
    expect(activityText(bob)).toBe('offline');
  });
});

const row = (name: string, more: Partial<DashboardRow> = {}): DashboardRow => ({
  userId: `u-${name}`,
  name,
  online: true,
  activity: null,
  lastVerdict: null,
  lastTests: [],
  latestRunId: null,
  total: 0,
  scores: {},
  ...more,
});
const running = { runId: 'r', status: 'running' as const };
const solvedP1 = { p1: { bestScore: 3, maxScore: 3, attempts: 1, solved: true } };
const class4 = [
  row('dora', { online: false, lastVerdict: 'WA', total: 1 }),
  row('Ann', { activity: running, lastVerdict: 'AC', total: 3, scores: solvedP1 }),
  row('cyd', { lastVerdict: 'TLE', total: 0 }),
  row('bob', { activity: running, total: 2 }),
];
const names = (rows: DashboardRow[]) => rows.map((r) => r.name);

describe('sortRows', () => {
  it('sorts by name, online, running, verdict and score, either way, ties by name', () => {
    expect(names(sortRows(class4, 'name'))).toEqual(['Ann', 'bob', 'cyd', 'dora']);
    expect(names(sortRows(class4, 'name', false))).toEqual(['dora', 'cyd', 'bob', 'Ann']);
    expect(names(sortRows(class4, 'online'))).toEqual(['Ann', 'bob', 'cyd', 'dora']);
    expect(names(sortRows(class4, 'online', false))).toEqual(['dora', 'cyd', 'bob', 'Ann']);
    expect(names(sortRows(class4, 'running'))).toEqual(['Ann', 'bob', 'cyd', 'dora']);
    // Accepted first, then by how bad; no verdict last.
    expect(names(sortRows(class4, 'verdict'))).toEqual(['Ann', 'dora', 'cyd', 'bob']);
    expect(names(sortRows(class4, 'score'))).toEqual(['Ann', 'bob', 'dora', 'cyd']);
    expect(names(sortRows(class4, 'score', false))).toEqual(['cyd', 'dora', 'bob', 'Ann']);
    expect(names(class4)).toEqual(['dora', 'Ann', 'cyd', 'bob']); // not changed in place
  });
});

describe('filterRows', () => {
  it('filters by name text (any case) and by state', () => {
    expect(names(filterRows(class4, ' AN ', 'all', ['p1']))).toEqual(['Ann']);
    expect(names(filterRows(class4, '', 'offline', ['p1']))).toEqual(['dora']);
    expect(names(filterRows(class4, '', 'online', ['p1']))).toEqual(['Ann', 'cyd', 'bob']);
    expect(names(filterRows(class4, '', 'running', ['p1']))).toEqual(['Ann', 'bob']);
    expect(names(filterRows(class4, '', 'solved', ['p1']))).toEqual(['Ann']);
    expect(names(filterRows(class4, '', 'not-solved', ['p1']))).toEqual(['dora', 'cyd', 'bob']);
    expect(names(filterRows(class4, '', 'failing', ['p1']))).toEqual(['dora', 'cyd']);
    expect(names(filterRows(class4, 'o', 'not-solved', ['p1']))).toEqual(['dora', 'bob']);
    // A session without problems: nobody has "solved everything".
    expect(filterRows(class4, '', 'solved', [])).toEqual([]);
  });
});

describe('classSummary', () => {
  const sub = (runId: string, userId: string, verdicts: string[], more = {}) => ({
    runId,
    userId,
    language: 'python',
    mode: 'submit' as const,
    problemId: 'p1',
    status: 'finished' as const,
    verdict: verdicts.every((v) => v === 'AC') ? ('AC' as const) : ('WA' as const),
    tests: verdicts.map((v, index) => ({ index, verdict: v as 'AC', hidden: index === 2 })),
    createdAt: at,
    ...more,
  });
  const members = ['a', 'b', 'c', 'd'].map((userId) => ({
    userId,
    name: userId,
    role: 'student' as const,
    online: true,
    activity: null,
  }));
  it("counts solvers and, over each student's latest finished submission, the failing tests", () => {
    const snap: DashboardSnapshot = {
      sessionId: 's1',
      members: [
        ...members,
        { userId: 't', name: 't', role: 'instructor', online: true, activity: null },
      ],
      runs: [
        // Newest first. a: latest fails test 2 (hidden); an older one failing 1 does not count.
        sub('a2', 'a', ['AC', 'AC', 'WA']),
        sub('a1', 'a', ['AC', 'WA', 'WA']),
        sub('b1', 'b', ['AC', 'WA', 'TLE']),
        sub('c1', 'c', ['AC', 'AC', 'AC']),
        // d's submission is still running: its live tests do not count yet.
        { ...sub('d1', 'd', []), status: 'running', verdict: undefined, tests: undefined },
        // The instructor's own tries are not the class's.
        sub('t1', 't', ['WA', 'WA', 'WA']),
        // Another problem.
        sub('x1', 'b', ['WA'], { problemId: 'p2' }),
      ],
      progress: [
        { userId: 'c', problemId: 'p1', bestScore: 3, maxScore: 3, attempts: 1, solvedAt: at },
        { userId: 't', problemId: 'p1', bestScore: 3, maxScore: 3, attempts: 1, solvedAt: at },
      ],
    };
    const [p1, p2] = classSummary(
      snap,
      [
        { problemId: 'p1', title: 'One' },
        { problemId: 'p2', title: 'Two' },
      ],
      () => [],
    );
    expect(p1).toEqual({
      problemId: 'p1',
      title: 'One',
      solved: 1,
      submitted: 3,
      failing: [
        { index: 2, hidden: true, count: 2 },
        { index: 1, hidden: false, count: 1 },
      ],
    });
    expect(p2).toMatchObject({ solved: 0, submitted: 1, failing: [{ index: 0, count: 1 }] });
  });

  it("takes a run's live test updates while the snapshot has none for it", () => {
    const run = { runId: 'r9', tests: undefined };
    const live = [test(1, 'WA'), test(0, 'AC')];
    expect(testsOfRun(run, () => live).map((t) => t.index)).toEqual([0, 1]);
    const stored = { runId: 'r9', tests: [{ index: 0, verdict: 'AC' as const, hidden: false }] };
    expect(testsOfRun(stored, () => []).map((t) => t.verdict)).toEqual(['AC']);
  });
});

describe('colorFor', () => {
  it('is stable per name and spreads short names over the colours', () => {
    expect(colorFor('ann')).toBe(colorFor('ann'));
    expect(new Set(['ann', 'bob', 'teacher'].map(colorFor)).size).toBe(3);
  });
});
