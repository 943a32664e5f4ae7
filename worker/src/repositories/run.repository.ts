import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import mongoose, { Schema, type Connection, type Model } from 'mongoose';
import type { OutputChunk, RunResult } from '@coderoom/contracts';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';

/**
 * The fields of a run document (collection `runs`, owned by the gateway's schema) that the
 * worker writes. strict: false leaves every other field as the gateway wrote it.
 */
interface WorkerRunFields {
  _id: string;
  status: string;
  startedAt: Date | null;
  finishedAt: Date | null;
  result: RunResult | null;
  output: Omit<OutputChunk, 'runId'>[];
}

const workerRunSchema = new Schema<WorkerRunFields>(
  { _id: String, status: String, startedAt: Date, finishedAt: Date, result: Object, output: Array },
  { collection: 'runs', versionKey: false, strict: false },
);

@Injectable()
export class RunRepository implements OnApplicationShutdown {
  private readonly logger = new Logger(RunRepository.name);
  private readonly connection: Connection;
  private readonly runs: Model<WorkerRunFields>;

  constructor(@Inject(WORKER_CONFIG) config: WorkerConfig) {
    this.connection = mongoose.createConnection(config.mongodbUri, {
      serverSelectionTimeoutMS: 5000,
    });
    this.connection.on('error', (err: Error) => this.logger.warn(`mongodb: ${err.message}`));
    this.runs = this.connection.model<WorkerRunFields>('WorkerRun', workerRunSchema);
  }

  async ping(): Promise<boolean> {
    try {
      await this.connection.db?.admin().ping();
      return this.connection.readyState === mongoose.ConnectionStates.connected;
    } catch {
      return false;
    }
  }

  async markStarted(runId: string, at: Date): Promise<void> {
    await this.runs
      .updateOne({ _id: runId }, { $set: { status: 'running', startedAt: at } })
      .exec();
  }

  async finish(runId: string, result: RunResult, output: readonly OutputChunk[]): Promise<void> {
    await this.runs
      .updateOne(
        { _id: runId },
        {
          $set: {
            status: 'finished',
            finishedAt: new Date(),
            result,
            output: output.map(({ seq, stream, data }) => ({ seq, stream, data })),
          },
        },
      )
      .exec();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.close();
  }
}
