import type {
  DashboardRun,
  DashboardSnapshot,
  DashboardUpdate,
  Progress,
} from '@coderoom/contracts';

/** Runs a dashboard snapshot holds (API.md: the latest runs, newest first, at most 200). */
export const DASHBOARD_RUNS = 200;

type SnapshotMember = DashboardSnapshot['members'][number];

/**
 * The snapshot after one update: what the server's snapshot would be one seq later. Pure: the
 * snapshot given is not changed; the result shares the lists the update does not touch, so a
 * UI can tell what changed by identity. `test` updates leave the snapshot as it is (a finished
 * submission's `run` carries its tests; the {@link Dashboard} keeps the live ones per run).
 */
export function applyDashboardUpdate(
  snapshot: DashboardSnapshot,
  update: DashboardUpdate,
): DashboardSnapshot {
  switch (update.kind) {
    case 'member':
      // A member who left (or is no longer an instructor) is gone from the list.
      if (update.removed) {
        const members = snapshot.members.filter((m) => m.userId !== update.member.userId);
        return members.length === snapshot.members.length ? snapshot : { ...snapshot, members };
      }
      return { ...snapshot, members: upsertMember(snapshot.members, update.member) };
    case 'run':
      return {
        ...snapshot,
        runs: upsertRun(snapshot.runs, update.run),
        members: runActivity(snapshot.members, update.run),
      };
    case 'progress':
      return { ...snapshot, progress: upsertProgress(snapshot.progress, update.progress) };
    case 'test':
      return snapshot;
    default: {
      const never: never = update;
      void never;
      return snapshot;
    }
  }
}

function upsertMember(
  members: readonly SnapshotMember[],
  member: Extract<DashboardUpdate, { kind: 'member' }>['member'],
): SnapshotMember[] {
  const i = members.findIndex((m) => m.userId === member.userId);
  // A member update without `activity` does not say the member stopped running something.
  const activity = member.activity !== undefined ? member.activity : (members[i]?.activity ?? null);
  const next: SnapshotMember = { ...members[i], ...member, activity };
  return i < 0 ? [...members, next] : members.map((m, j) => (j === i ? next : m));
}

/**
 * What a member runs, as the server folds a run update into its state: a run that is not
 * finished is its owner's activity; a finished one ends it if it was the activity. The list is
 * returned as it is when nothing changes.
 */
function runActivity(members: readonly SnapshotMember[], run: DashboardRun): SnapshotMember[] {
  const i = members.findIndex((m) => m.userId === run.userId);
  if (i < 0) return members as SnapshotMember[];
  const current = members[i].activity;
  let activity = current;
  if (run.status !== 'finished') activity = { runId: run.runId, status: run.status };
  else if (current?.runId === run.runId) activity = null;
  if (
    activity === current ||
    (activity && current && activity.runId === current.runId && activity.status === current.status)
  ) {
    return members as SnapshotMember[];
  }
  return members.map((m, j) => (j === i ? { ...m, activity } : m));
}

/** Newest first by `createdAt`; a known run is updated in place; the oldest beyond 200 go. */
function upsertRun(runs: readonly DashboardRun[], run: DashboardRun): DashboardRun[] {
  const i = runs.findIndex((r) => r.runId === run.runId);
  if (i >= 0) return runs.map((r, j) => (j === i ? { ...r, ...run } : r));
  const at = Date.parse(run.createdAt);
  let pos = runs.findIndex((r) => Date.parse(r.createdAt) <= at);
  if (pos < 0) pos = runs.length;
  const next = [...runs.slice(0, pos), run, ...runs.slice(pos)];
  return next.length > DASHBOARD_RUNS ? next.slice(0, DASHBOARD_RUNS) : next;
}

function upsertProgress(list: readonly Progress[], progress: Progress): Progress[] {
  const i = list.findIndex(
    (p) => p.userId === progress.userId && p.problemId === progress.problemId,
  );
  return i < 0 ? [...list, progress] : list.map((p, j) => (j === i ? progress : p));
}
