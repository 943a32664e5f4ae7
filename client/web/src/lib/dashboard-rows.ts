import type {
  Activity,
  DashboardRun,
  DashboardSnapshot,
  ProblemView,
  RunTestEvent,
} from '@coderoom/sdk';

/** A test's verdict as the dashboard shows it (from the snapshot or a live `test` update). */
export type TestMark = Pick<RunTestEvent, 'index' | 'verdict' | 'hidden'> &
  Partial<Pick<RunTestEvent, 'points' | 'maxPoints'>>;

export interface DashboardRow {
  userId: string;
  name: string;
  online: boolean;
  activity: Activity | null;
  /** The verdict of the student's latest finished run or submission. */
  lastVerdict: string | null;
  /** The test cases of the student's latest submission (as far as received). */
  lastTests: TestMark[];
  /** The student's newest run (what "follow" shows when nothing runs now). */
  latestRunId: string | null;
  /** Sum of the best scores over the session's problems (for sorting). */
  total: number;
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
      lastTests: lastSubmit ? testsOfRun(lastSubmit, testsOf) : [],
      latestRunId: runs[0]?.runId ?? null,
      total: Object.values(scores).reduce((n, sc) => n + sc.bestScore, 0),
      scores,
    };
  });
}

/**
 * A submission's tests: the snapshot's (a finished one carries them), else the live `test`
 * updates received so far; sorted by index.
 */
export function testsOfRun(
  run: Pick<DashboardRun, 'runId' | 'tests'>,
  testsOf: (runId: string) => readonly TestMark[],
): TestMark[] {
  const live = testsOf(run.runId);
  const list = run.tests && run.tests.length >= live.length ? run.tests : live;
  return [...list].sort((a, b) => a.index - b.index);
}

export const SORT_KEYS = ['name', 'online', 'running', 'verdict', 'score'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export const SORT_LABELS: Record<SortKey, string> = {
  name: 'Student',
  online: 'Online',
  running: 'Running',
  verdict: 'Last verdict',
  score: 'Score',
};

/** Verdicts from best to worst (a sort by verdict puts the accepted first). */
const VERDICT_ORDER = ['AC', 'OK', 'WA', 'RE', 'TLE', 'MLE', 'OLE', 'CE', 'CANCELLED', 'SE'];
const verdictRank = (v: string | null) => {
  const i = v === null ? -1 : VERDICT_ORDER.indexOf(v);
  return i < 0 ? VERDICT_ORDER.length : i;
};
const byName = (a: DashboardRow, b: DashboardRow) =>
  a.name.localeCompare(b.name) || a.userId.localeCompare(b.userId);

/**
 * The rows sorted by `key`, ascending or not; ties by name, so the order is stable while
 * updates stream in. "Ascending" means the natural first: online before offline, running
 * before idle, accepted before failing, the highest score first.
 */
export function sortRows(
  rows: readonly DashboardRow[],
  key: SortKey,
  ascending = true,
): DashboardRow[] {
  const cmp = (a: DashboardRow, b: DashboardRow): number => {
    switch (key) {
      case 'name':
        return 0;
      case 'online':
        return Number(b.online) - Number(a.online);
      case 'running':
        return Number(b.activity !== null) - Number(a.activity !== null);
      case 'verdict':
        return verdictRank(a.lastVerdict) - verdictRank(b.lastVerdict);
      case 'score':
        return b.total - a.total;
    }
  };
  const dir = ascending ? 1 : -1;
  return [...rows].sort((a, b) => dir * (cmp(a, b) || byName(a, b)));
}

export const STATE_FILTERS = {
  all: 'Everyone',
  online: 'Online',
  offline: 'Offline',
  running: 'Running now',
  solved: 'Solved everything',
  'not-solved': 'Not solved',
  failing: 'Last verdict failed',
} as const;
export type StateFilter = keyof typeof STATE_FILTERS;

const PASSED = new Set(['AC', 'OK']);

/** The rows whose name contains `text` (any case) and that are in `state`. */
export function filterRows(
  rows: readonly DashboardRow[],
  text: string,
  state: StateFilter,
  problemIds: readonly string[],
): DashboardRow[] {
  const needle = text.trim().toLocaleLowerCase();
  const solvedAll = (r: DashboardRow) =>
    problemIds.length > 0 && problemIds.every((id) => r.scores[id]?.solved);
  return rows.filter((r) => {
    if (needle && !r.name.toLocaleLowerCase().includes(needle)) return false;
    switch (state) {
      case 'all':
        return true;
      case 'online':
        return r.online;
      case 'offline':
        return !r.online;
      case 'running':
        return r.activity !== null;
      case 'solved':
        return solvedAll(r);
      case 'not-solved':
        return !solvedAll(r);
      case 'failing':
        return r.lastVerdict !== null && !PASSED.has(r.lastVerdict);
    }
  });
}

export interface ProblemSummary {
  problemId: string;
  title: string;
  /** Students who solved it (all tests passed at least once). */
  solved: number;
  /** Students with at least one finished submission of it among the snapshot's runs. */
  submitted: number;
  /** Per test index: how many students' latest submissions fail it; most first. */
  failing: { index: number; hidden: boolean; count: number }[];
}

/**
 * The class summary: per problem, how many students solved it and which tests fail most, from
 * each student's latest finished submission of it (among the snapshot's latest runs).
 */
export function classSummary(
  snapshot: DashboardSnapshot,
  problems: readonly Pick<ProblemView, 'problemId' | 'title'>[],
  testsOf: (runId: string) => readonly TestMark[],
): ProblemSummary[] {
  const students = new Set(
    snapshot.members.filter((m) => m.role === 'student').map((m) => m.userId),
  );
  return problems.map((p) => {
    const latest = new Map<string, DashboardRun>();
    // Runs are newest first: the first finished submission seen per student is their latest.
    for (const r of snapshot.runs) {
      if (r.mode !== 'submit' || r.problemId !== p.problemId || r.status !== 'finished') continue;
      if (!students.has(r.userId) || latest.has(r.userId)) continue;
      latest.set(r.userId, r);
    }
    const fails = new Map<number, { index: number; hidden: boolean; count: number }>();
    for (const run of latest.values()) {
      for (const t of testsOfRun(run, testsOf)) {
        if (t.verdict === 'AC') continue;
        const f = fails.get(t.index) ?? { index: t.index, hidden: t.hidden, count: 0 };
        f.count++;
        fails.set(t.index, f);
      }
    }
    const solved = snapshot.progress.filter(
      (g) => g.problemId === p.problemId && g.solvedAt !== undefined && students.has(g.userId),
    ).length;
    return {
      problemId: p.problemId,
      title: p.title,
      solved,
      submitted: latest.size,
      failing: [...fails.values()].sort((a, b) => b.count - a.count || a.index - b.index),
    };
  });
}
