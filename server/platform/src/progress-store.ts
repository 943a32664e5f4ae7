import { Schema, type Connection, type Model } from 'mongoose';
import type { Progress } from '@coderoom/contracts';
import { isDuplicateKey } from './database.js';

/**
 * Progress per (session, user, problem): best score, attempts, first solved time (collection
 * `progress`). A submission outside a session counts under the session id `-`. Written by the
 * worker when a submission ends, read by the gateway (dashboard, CSV).
 */
export interface ProgressDocument {
  /** `<session>|<user>|<problem>`. */
  _id: string;
  sessionId: string;
  userId: string;
  problemId: string;
  bestScore: number;
  maxScore: number;
  attempts: number;
  /** Absent until solved (`$min` sets a missing field; a stored null would beat every date). */
  solvedAt?: Date;
  updatedAt: Date;
}

/** The session id progress outside any session is kept under. */
export const NO_SESSION = '-';

export const progressSchema = new Schema<ProgressDocument>(
  {
    _id: { type: String, required: true },
    sessionId: { type: String, required: true },
    userId: { type: String, required: true },
    problemId: { type: String, required: true },
    bestScore: { type: Number, required: true },
    maxScore: { type: Number, required: true },
    attempts: { type: Number, required: true },
    solvedAt: { type: Date },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'progress', versionKey: false, autoIndex: false },
);

export function progressView(d: ProgressDocument): Progress {
  return {
    userId: d.userId,
    problemId: d.problemId,
    bestScore: d.bestScore,
    maxScore: d.maxScore,
    attempts: d.attempts,
    ...(d.solvedAt ? { solvedAt: new Date(d.solvedAt).toISOString() } : {}),
  };
}

export class ProgressStore {
  readonly model: Model<ProgressDocument>;

  constructor(connection: Connection) {
    this.model =
      (connection.models.Progress as Model<ProgressDocument> | undefined) ??
      connection.model<ProgressDocument>('Progress', progressSchema);
  }

  async ensureIndexes(): Promise<void> {
    await this.model.collection.createIndex({ sessionId: 1, userId: 1 });
  }

  /**
   * Records one graded submission in a single atomic update: `$inc` attempts, `$max` the best
   * score, `$min` the first solved time (only when it solved the problem), no read-modify-write,
   * so concurrent submissions of one user all count. Resolves with the progress afterwards.
   */
  async record(
    sessionId: string | null,
    userId: string,
    problemId: string,
    score: number,
    maxScore: number,
    solvedAt: Date | null,
  ): Promise<Progress> {
    const sid = sessionId ?? NO_SESSION;
    const _id = `${sid}|${userId}|${problemId}`;
    const update = {
      $inc: { attempts: 1 },
      $max: { bestScore: score },
      ...(solvedAt ? { $min: { solvedAt } } : {}),
      $set: { maxScore, updatedAt: new Date() },
      $setOnInsert: { sessionId: sid, userId, problemId },
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const doc = await this.model
          .findOneAndUpdate({ _id }, update, { upsert: true, returnDocument: 'after' })
          .lean<ProgressDocument>()
          .exec();
        if (!doc) throw new Error(`progress ${_id}: the upsert returned nothing`);
        return progressView(doc);
      } catch (err) {
        // Two first submissions at once: both upserts insert, one loses with a duplicate key
        // (MongoDB retries that itself in most cases; FerretDB never does). Again, as an update.
        if (!isDuplicateKey(err) || attempt >= 3) throw err;
      }
    }
  }

  async ofSession(sessionId: string): Promise<Progress[]> {
    const docs = await this.model.find({ sessionId }).lean<ProgressDocument[]>().exec();
    return docs.map(progressView);
  }
}
