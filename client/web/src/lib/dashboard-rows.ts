import type { Activity, DashboardSnapshot, ProblemView, RunTestEvent } from '@coderoom/sdk';

export interface DashboardRow {
  userId: string;
  name: string;
  online: boolean;
  activity: Activity | null;
  /** The verdict of the student's latest finished run or submission. */
  lastVerdict: string | null;
  /** The test cases of the student's latest submission (as far as received). */
  lastTests: RunTestEvent[];
  scores: Record<
    string,
    { bestScore: number; maxScore: number; attempts: number; solved: boolean }
  >;
}

/** The dashboard's grid: one row per student, from the SDK's snapshot (runs are newest first). */
export function dashboardRows(
  snapshot: DashboardSnapshot,
  problems: readonly Pick<ProblemView, 'problemId'>[],
  testsOf: (runId: string) => RunTestEvent[],
): DashboardRow[] {
  const students = snapshot.members.filter((m) => m.role === 'student');
  return students.map((m) => {
    const runs = snapshot.runs.filter((r) => r.userId === m.userId);
    const lastFinished = runs.find((r) => r.status === 'finished' && r.verdict);
    const lastSubmit = runs.find((r) => r.mode === 'submit');
    const scores: DashboardRow['scores'] = {};
    for (const p of snapshot.progress) {
      if (p.userId !== m.userId) continue;
      if (!problems.some((q) => q.problemId === p.problemId)) continue;
      scores[p.problemId] = {
        bestScore: p.bestScore,
        maxScore: p.maxScore,
        attempts: p.attempts,
        solved: p.solvedAt !== undefined,
      };
    }
    return {
      userId: m.userId,
      name: m.name,
      online: m.online,
      activity: m.activity,
      lastVerdict: lastFinished?.verdict ?? null,
      lastTests: lastSubmit ? [...testsOf(lastSubmit.runId)].sort((a, b) => a.index - b.index) : [],
      scores,
    };
  });
}
