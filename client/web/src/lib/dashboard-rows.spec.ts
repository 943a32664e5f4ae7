import { describe, expect, it } from '@jest/globals';
import type { DashboardSnapshot, RunTestEvent } from '@coderoom/sdk';
import { dashboardRows } from './dashboard-rows.js';
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

describe('colorFor', () => {
  it('is stable per name and spreads short names over the colours', () => {
    expect(colorFor('ann')).toBe(colorFor('ann'));
    expect(new Set(['ann', 'bob', 'teacher'].map(colorFor)).size).toBe(3);
  });
});
