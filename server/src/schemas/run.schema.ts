import { Schema } from 'mongoose';
import { RUN_MODES, RUN_STATUSES, STREAMS, VERDICTS } from '@coderoom/contracts';

/**
 * A run as stored in MongoDB (collection `runs`). The gateway writes the fields of the request
 * (owner, language, files, ...), the worker status, startedAt, finishedAt, result and output.
 * Both write with upserts, whichever lands first (the gateway acknowledges a run before its
 * document is written): until the gateway's write lands, a document may be `StoredRun` only.
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
  result: {
    verdict: (typeof VERDICTS)[number];
    exitCode: number | null;
    signal: string | null;
    timeMs: number;
    memoryKb: number | null;
    truncated: boolean;
  } | null;
  output: { seq: number; stream: (typeof STREAMS)[number]; data: string }[];
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** TTL index: MongoDB deletes the run after this time. */
  expireAt: Date;
}

/** What a read may find: possibly only the worker's fields so far. */
export type StoredRun = Pick<RunDocument, '_id'> & Partial<Omit<RunDocument, '_id'>>;

const resultSchema = new Schema(
  {
    verdict: { type: String, enum: VERDICTS, required: true },
    exitCode: { type: Number, default: null },
    signal: { type: String, default: null },
    timeMs: { type: Number, required: true },
    memoryKb: { type: Number, default: null },
    truncated: { type: Boolean, required: true },
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
  { collection: 'runs', versionKey: false, autoIndex: false },
);
