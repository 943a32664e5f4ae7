import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Connection, Model } from 'mongoose';
import type { OutputChunk, RunResult } from '@coderoom/contracts';
import {
  connectMongo,
  isDuplicateKey,
  pingMongo,
  ProgressStore,
  runSchema,
  verifiedWrite,
  type RunDocument,
} from '@coderoom/platform';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';

/**
 * The worker's writes of run documents (the shared schema, @coderoom/platform run-document.ts):
 * only its own fields (WorkerRunFields), with upserts, never the request's.
 */
@Injectable()
export class RunRepository implements OnApplicationShutdown {
  private readonly logger = new Logger(RunRepository.name);
  private readonly connection: Connection;
  private readonly runs: Model<RunDocument>;
  /** Progress per (session, user, problem), recorded when a submission ends. */
  readonly progress: ProgressStore;

  constructor(@Inject(WORKER_CONFIG) config: WorkerConfig) {
    this.connection = connectMongo(config.mongodbUri, (m) => this.logger.warn(m));
    this.runs = this.connection.model<RunDocument>('Run', runSchema);
    this.progress = new ProgressStore(this.connection);
  }

  ping(): Promise<boolean> {
    return pingMongo(this.connection);
  }

  // Both writes are upserts: the gateway writes a run's document after acknowledging it, so a
  // worker may get there first; the gateway's upsert then only adds the request's fields
  // (server/src/repositories/run.repository.ts).

  /**
   * Never turns a finished run back into a running one (this write is not awaited in order).
   * Resolves whether this write created the document (the gateway's had not landed yet).
   */
  async markStarted(runId: string, at: Date): Promise<boolean> {
    try {
      const r = await this.runs
        .updateOne(
          { _id: runId, status: { $ne: 'finished' } },
          {
            $set: { status: 'running', startedAt: at },
            $setOnInsert: { result: null, output: [], finishedAt: null },
          },
          { upsert: true },
        )
        .exec();
      return r.upsertedCount > 0;
    } catch (err) {
      // The document exists but is finished: the upsert's insert collided with it.
      if (!isDuplicateKey(err)) throw err;
      return false;
    }
  }

  /**
   * The end of a run, with its start when it started (a short run's start is written here only:
   * see RunExecutionService, MARK_RUNNING_AFTER_MS). `createdEarlier`: this worker's start record
   * created the document (markStarted resolved true).
   *
   * Whether it landed is read back only when another update of the document may run at the same
   * time, which on FerretDB can undo it (verifiedWrite): that is when this worker created the
   * document, since the gateway then finds it at its insert and updates it instead. When the
   * write found the gateway's document, the gateway is done with it: no read (one less per run,
   * on MongoDB too). Left unchecked on FerretDB: a gateway whose insert landed but failed to
   * answer, and whose retry updates the document while this write lands. (Not closed by the
   * read either, on FerretDB: an update of the gateway that lands after the read; README.)
   */
  async finish(
    runId: string,
    result: RunResult,
    output: readonly OutputChunk[],
    startedAt: Date | null,
    finishedAt: Date,
    createdEarlier = false,
  ): Promise<void> {
    const write = () =>
      this.runs
        .updateOne(
          { _id: runId },
          {
            $set: {
              status: 'finished',
              finishedAt,
              result,
              output: output.map(({ seq, stream, data }) => ({ seq, stream, data })),
              ...(startedAt ? { startedAt } : {}),
            },
            ...(startedAt ? {} : { $setOnInsert: { startedAt: null } }),
          },
          { upsert: true },
        )
        .exec();
    const landed = async () =>
      (await this.runs.findById(runId, { status: 1 }).lean().exec())?.status === 'finished';
    try {
      const first = await write();
      if (first.upsertedCount === 0 && first.matchedCount > 0 && !createdEarlier) return;
      if (await landed()) return;
    } catch (err) {
      // Two upserts creating the document at once (FerretDB): repeated below.
      if (!isDuplicateKey(err)) throw err;
    }
    if (!(await verifiedWrite(write, landed))) {
      this.logger.error({ msg: 'the stored result did not stick (a concurrent write?)', runId });
    }
  }

  /** Runs stored as queued or running that were created before `before` (oldest first). */
  async unfinished(
    before: Date,
    limit: number,
  ): Promise<{ _id: string; ownerId?: string; status: string }[]> {
    return this.runs
      .find({
        status: { $in: ['queued', 'running'] },
        // A document the worker created first (the gateway's write has not landed, or never
        // will) has no createdAt: its start time says how old it is.
        $or: [
          { createdAt: { $lt: before } },
          { createdAt: { $exists: false }, startedAt: { $lt: before } },
        ],
      })
      .sort({ createdAt: 1 })
      .limit(limit)
      .select({ _id: 1, ownerId: 1, status: 1 })
      .lean<{ _id: string; ownerId?: string; status: string }[]>()
      .exec();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.close();
  }
}
