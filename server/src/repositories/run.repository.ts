import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import type { OutputChunk, RunResult } from '@coderoom/contracts';
import { runSchema, type RunDocument } from '../schemas/run.schema.js';
import { DatabaseRepository } from './database.repository.js';

/** MongoDB's error code for a feature the server does not implement (FerretDB: TTL indexes). */
const NOT_IMPLEMENTED = 238;
const SWEEP_MS = 10 * 60 * 1000;

export type NewRun = Omit<RunDocument, 'result' | 'output' | 'startedAt' | 'finishedAt'>;

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
    try {
      await this.runs.collection.createIndex({ expireAt: 1 }, { expireAfterSeconds: 0 });
    } catch (err) {
      if ((err as { code?: number }).code !== NOT_IMPLEMENTED) throw err;
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

  async create(run: NewRun): Promise<void> {
    await this.runs.create({ ...run, result: null, output: [], startedAt: null, finishedAt: null });
  }

  async find(runId: string): Promise<RunDocument | null> {
    return this.runs.findById(runId).lean<RunDocument>().exec();
  }

  /** Records the end of a run the gateway finished itself (cancelled while queued). */
  async finish(runId: string, result: RunResult, output: OutputChunk[]): Promise<void> {
    await this.runs
      .updateOne(
        { _id: runId },
        {
          $set: {
            status: 'finished',
            result,
            output: output.map(({ seq, stream, data }) => ({ seq, stream, data })),
            finishedAt: new Date(),
          },
        },
      )
      .exec();
  }
}
