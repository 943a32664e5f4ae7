import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Schema, type Model } from 'mongoose';
import type { Checker } from '@coderoom/contracts';
import { ProgressStore } from '@coderoom/platform';
import { DatabaseRepository } from './database.repository.js';

/** A problem (collection `problems`). Its hidden tests never leave the gateway for a student. */
export interface ProblemDocument {
  _id: string;
  authorId: string;
  title: string;
  statement: string;
  languages: string[];
  starter: Record<string, string>;
  limits: { wallMs?: number; memoryMb?: number };
  checker: Checker;
  tolerance?: number;
  tests: { stdin: string; expected: string; points: number; hidden: boolean }[];
  createdAt: Date;
}

const problemSchema = new Schema<ProblemDocument>(
  {
    _id: { type: String, required: true },
    authorId: { type: String, required: true },
    title: { type: String, required: true },
    statement: { type: String, default: '' },
    languages: { type: [String], default: [] },
    starter: { type: Schema.Types.Mixed, default: {} },
    limits: { type: Schema.Types.Mixed, default: {} },
    checker: { type: String, enum: ['exact', 'tokens', 'float'], required: true },
    tolerance: { type: Number },
    tests: [
      {
        _id: false,
        stdin: String,
        expected: String,
        points: Number,
        hidden: Boolean,
      },
    ],
    createdAt: { type: Date, required: true },
  },
  { collection: 'problems', versionKey: false, autoIndex: false, minimize: false },
);

@Injectable()
export class ProblemRepository implements OnModuleInit {
  private readonly problems: Model<ProblemDocument>;
  /** Progress per (session, user, problem): the worker writes it, the gateway reads it. */
  readonly progress: ProgressStore;

  constructor(private readonly db: DatabaseRepository) {
    this.problems = db.connection.model<ProblemDocument>('Problem', problemSchema);
    this.progress = new ProgressStore(db.connection);
  }

  async onModuleInit(): Promise<void> {
    await this.db.ready();
    await this.problems.collection.createIndex({ authorId: 1 });
    await this.progress.ensureIndexes();
  }

  async create(problem: ProblemDocument): Promise<void> {
    await this.problems.create(problem);
  }

  find(problemId: string): Promise<ProblemDocument | null> {
    return this.problems.findById(problemId).lean<ProblemDocument>().exec();
  }

  /** The problems `authorId` created, newest first. */
  byAuthor(authorId: string, limit: number): Promise<ProblemDocument[]> {
    return this.problems
      .find({ authorId })
      .sort({ createdAt: -1 })
      .limit(limit)
      .lean<ProblemDocument[]>()
      .exec();
  }

  findMany(ids: string[]): Promise<ProblemDocument[]> {
    return this.problems
      .find({ _id: { $in: ids } })
      .lean<ProblemDocument[]>()
      .exec();
  }
}
