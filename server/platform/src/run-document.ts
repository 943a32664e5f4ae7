import { Schema } from 'mongoose';
import { RUN_MODES, RUN_STATUSES, STREAMS, VERDICTS, type RunResult } from '@coderoom/contracts';

/** Collection of the run documents. */
export const RUNS_COLLECTION = 'runs';

/**
 * A run as stored in MongoDB (collection `runs`): the one definition, used by the gateway and
 * the worker. The gateway writes the fields of the request (owner, language, files, ...), the
 * worker status, startedAt, finishedAt, result and output (`WorkerRunFields`). Both write with
 * upserts, whichever lands first (the gateway acknowledges a run before its document is
 * written): until the gateway's write lands, a document may be `StoredRun` only.
 */
export interface RunDocument {
  _id: string;
  ownerId: string;
  ownerName: string;
  language: string;
  mode: (typeof RUN_MODES)[number];
  sessionId: string | null;
  problemId: string | null;
  files: { path: string; content: string }[];
  stdin: string;
  interactive: boolean;
  status: (typeof RUN_STATUSES)[number];
  /** Submissions: `tests` holds what students may see only (no hidden test's data). */
  result: RunResult | null;
  output: { seq: number; stream: (typeof STREAMS)[number]; data: string }[];
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** TTL index: MongoDB deletes the run after this time. */
  expireAt: Date;
}

/** What a read may find: possibly only the worker's fields so far. */
export type StoredRun = Pick<RunDocument, '_id'> & Partial<Omit<RunDocument, '_id'>>;

/** The fields the worker writes; every other field is the gateway's. */
export type WorkerRunFields = Pick<
  RunDocument,
  '_id' | 'status' | 'startedAt' | 'finishedAt' | 'result' | 'output'
>;

/** The fields only the gateway writes (from the request). */
export type NewRun = Omit<RunDocument, keyof Omit<WorkerRunFields, '_id'>>;

const resultSchema = new Schema(
  {
    verdict: { type: String, enum: VERDICTS, required: true },
    exitCode: { type: Number, default: null },
    signal: { type: String, default: null },
    timeMs: { type: Number, required: true },
    memoryKb: { type: Number, default: null },
    truncated: { type: Boolean, required: true },
    // Submissions (run:test objects without hidden data, score, maxScore).
    tests: { type: [Schema.Types.Mixed], default: undefined },
    score: { type: Number },
    maxScore: { type: Number },
  },
  { _id: false },
);

export const runSchema: Schema<RunDocument> = new Schema<RunDocument>(
  {
    _id: { type: String, required: true },
    ownerId: { type: String, required: true },
    ownerName: { type: String, required: true },
    language: { type: String, required: true },
    mode: { type: String, enum: RUN_MODES, required: true },
    sessionId: { type: String, default: null },
    problemId: { type: String, default: null },
    files: [{ _id: false, path: String, content: String }],
    stdin: { type: String, default: '' },
    interactive: { type: Boolean, default: false },
    status: { type: String, enum: RUN_STATUSES, required: true },
    result: { type: resultSchema, default: null },
    output: [{ _id: false, seq: Number, stream: { type: String, enum: STREAMS }, data: String }],
    createdAt: { type: Date, required: true },
    startedAt: { type: Date, default: null },
    finishedAt: { type: Date, default: null },
    expireAt: { type: Date, required: true },
  },
  { collection: RUNS_COLLECTION, versionKey: false, autoIndex: false },
);
