import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import {
  CLASSROOM_LIMITS,
  dashboardTests,
  type DashboardRun,
  type OutputChunk,
  type RunResult,
} from '@coderoom/contracts';
import {
  NOT_IMPLEMENTED,
  isDuplicateKey,
  runSchema,
  verifiedWrite,
  type NewRun,
  type RunDocument,
  type StoredRun,
} from '@coderoom/platform';
import { DatabaseRepository } from './database.repository.js';

const SWEEP_MS = 10 * 60 * 1000;

export type { NewRun };

/** Run documents in MongoDB. */
@Injectable()
export class RunRepository implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RunRepository.name);
  private readonly runs: Model<RunDocument>;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly db: DatabaseRepository) {
    this.runs = db.connection.model<RunDocument>('Run', runSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.db.ready();
    await this.runs.collection.createIndex({ ownerId: 1, createdAt: -1 });
    // The worker's reconciler looks for old unfinished runs (worker/src/services/run-reaper).
    await this.runs.collection.createIndex({ status: 1, createdAt: 1 });
    // A session's runs for its dashboard (DashboardService's seed).
    await this.runs.collection.createIndex({ sessionId: 1, createdAt: -1 });
    try {
      await this.runs.collection.createIndex({ expireAt: 1 }, { expireAfterSeconds: 0 });
    } catch (err) {
      if ((err as { code?: number } | null)?.code !== NOT_IMPLEMENTED) throw err;
      // FerretDB v1 has no TTL indexes: delete expired runs ourselves instead.
      this.logger.warn('the database has no TTL indexes; expired runs are swept every 10 minutes');
      await this.runs.collection.createIndex({ expireAt: 1 });
      this.sweeper = setInterval(() => void this.sweepExpired(), SWEEP_MS);
      this.sweeper.unref();
      await this.sweepExpired();
    }
  }

  onModuleDestroy(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  async sweepExpired(): Promise<number> {
    try {
      const r = await this.runs.deleteMany({ expireAt: { $lt: new Date() } }).exec();
      return r.deletedCount;
    } catch (err) {
      this.logger.warn(`sweeping expired runs failed: ${(err as Error).message}`);
      return 0;
    }
  }

  /**
   * Writes a new run's document, whether or not a worker's write created it already: the
   * request's fields are set (nobody else writes them, so repeating this is harmless), the
   * worker's fields only get their initial values if the document is new. The worker's writes
   * are upserts too (worker/src/repositories/run.repository.ts), so no order loses anything.
   */
  async create(run: NewRun): Promise<void> {
    // Usually the first write: a plain insert, which needs no read-back (an insert is atomic
    // everywhere) and, on FerretDB v1, costs about half an update (~0.8 against ~1.3 ms with the
    // stack's patched FerretDB; as released its updates scanned the collection: README).
    // Through the driver, not Model.create: building, casting and validating a mongoose document
    // cost the gateway ~0.5 ms of CPU per run more (measured: 0.77-0.94 against 0.26-0.46 ms),
    // right while its run starts. Every field is given here, in the schema's shape (no __v:
    // versionKey is off), so the stored document is the same.
    const doc: RunDocument = {
      _id: run._id,
      ownerId: run.ownerId,
      ownerName: run.ownerName,
      language: run.language,
      mode: run.mode,
      sessionId: run.sessionId,
      problemId: run.problemId,
      files: run.files.map(({ path, content }) => ({ path, content })),
      stdin: run.stdin,
      interactive: run.interactive,
      status: 'queued',
      result: null,
      output: [],
      createdAt: run.createdAt,
      startedAt: null,
      finishedAt: null,
      expireAt: run.expireAt,
    };
    try {
      await this.runs.collection.insertOne(doc as unknown as Record<string, unknown>);
      return;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      // A worker's write created the document first, or this is a retry: add the request.
    }
    const { _id, ...request } = run;
    const write = () =>
      this.runs
        .updateOne(
          { _id },
          {
            $set: request,
            $setOnInsert: {
              status: 'queued',
              result: null,
              output: [],
              startedAt: null,
              finishedAt: null,
            },
          },
          { upsert: true },
        )
        .exec();
    const landed = async () =>
      (await this.runs.findById(_id, { ownerId: 1 }).lean<{ ownerId?: string }>().exec())
        ?.ownerId === request.ownerId;
    if (!(await verifiedWrite(write, landed))) {
      throw new Error(`run ${_id}: the stored request fields did not stick`);
    }
  }

  /** A session's latest runs as its dashboard shows them, newest first. */
  async latestOfSession(
    sessionId: string,
    limit = CLASSROOM_LIMITS.dashboardRuns,
  ): Promise<DashboardRun[]> {
    const docs = await this.runs
      .find({ sessionId })
      .sort({ createdAt: -1 })
      .limit(limit)
      .select({
        ownerId: 1,
        language: 1,
        mode: 1,
        problemId: 1,
        status: 1,
        result: 1,
        createdAt: 1,
      })
      .lean<StoredRun[]>()
      .exec();
    return docs
      .filter((d) => d.ownerId && d.createdAt)
      .map((d) => ({
        runId: d._id,
        userId: d.ownerId!,
        language: d.language ?? '',
        mode: d.mode ?? 'run',
        ...(d.problemId ? { problemId: d.problemId } : {}),
        status: d.status ?? 'queued',
        ...(d.result ? { verdict: d.result.verdict } : {}),
        ...(d.result?.score !== undefined ? { score: d.result.score } : {}),
        ...(d.result?.maxScore !== undefined ? { maxScore: d.result.maxScore } : {}),
        ...dashboardTests(d.result?.tests),
        createdAt: new Date(d.createdAt!).toISOString(),
      }));
  }

  /** A run's program and whose it is, without its output (the dashboard's view of a student). */
  async findProgram(
    runId: string,
  ): Promise<Pick<StoredRun, '_id' | 'ownerId' | 'sessionId' | 'language' | 'files'> | null> {
    return this.runs
      .findById(runId, { ownerId: 1, sessionId: 1, language: 1, files: 1 })
      .lean<StoredRun>()
      .exec();
  }

  async find(runId: string): Promise<StoredRun | null> {
    return this.runs.findById(runId).lean<StoredRun>().exec();
  }

  /**
   * Records the end of a run the gateway finished itself (cancelled while queued); an upsert,
   * as the run's `create` may still be on its way.
   */
  async finish(
    runId: string,
    result: RunResult,
    output: OutputChunk[],
    finishedAt: Date,
  ): Promise<void> {
    await this.runs
      .updateOne(
        { _id: runId },
        {
          $set: {
            status: 'finished',
            result,
            output: output.map(({ seq, stream, data }) => ({ seq, stream, data })),
            finishedAt,
          },
          $setOnInsert: { startedAt: null },
        },
        { upsert: true },
      )
      .exec();
  }
}
