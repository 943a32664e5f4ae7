import type { LiveRunState } from '../repositories/run-log.repository.js';
import type { RunDocument, StoredRun } from '@coderoom/platform';

/** What the gateway needs to answer about a run (watch, GET, cancel, input). */
export type RunView = Pick<
  RunDocument,
  | '_id'
  | 'ownerId'
  | 'language'
  | 'mode'
  | 'sessionId'
  | 'problemId'
  | 'interactive'
  | 'status'
  | 'result'
  | 'output'
  | 'createdAt'
  | 'startedAt'
  | 'finishedAt'
>;

type WithRequest = StoredRun & Pick<RunDocument, 'ownerId' | 'language' | 'mode' | 'createdAt'>;

/** The gateway writes the request's fields in one update: the owner stands for all of them. */
const hasRequest = (s: StoredRun | null): s is WithRequest => s?.ownerId !== undefined;

/**
 * A run from its stored document or, while the gateway's write has not landed (it happens
 * after the acknowledgement, and a worker's upsert may create a partial document first), from
 * what the admission put into its live state in Redis. Null: no such run (or it expired).
 */
export function runView(
  runId: string,
  stored: StoredRun | null,
  live: LiveRunState | null,
): RunView | null {
  const progress = {
    status: stored?.status ?? 'queued',
    result: stored?.result ?? null,
    output: stored?.output ?? [],
    startedAt: stored?.startedAt ?? null,
    finishedAt: stored?.finishedAt ?? null,
  };
  if (hasRequest(stored)) {
    const { ownerId, language, mode, createdAt } = stored;
    const interactive = stored.interactive ?? false;
    const sessionId = stored.sessionId ?? null;
    const problemId = stored.problemId ?? null;
    return {
      _id: runId,
      ...{ ownerId, language, mode, sessionId, problemId, interactive, createdAt },
      ...progress,
    };
  }
  const origin = live?.origin;
  if (!origin) return null;
  return {
    _id: runId,
    ownerId: origin.ownerId,
    language: origin.language,
    mode: origin.mode,
    sessionId: origin.sessionId,
    problemId: origin.problemId,
    interactive: origin.interactive,
    createdAt: new Date(origin.createdAt),
    ...progress,
  };
}
