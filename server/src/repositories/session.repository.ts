import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { Schema, type Model } from 'mongoose';
import { NOT_IMPLEMENTED, isDuplicateKey } from '@coderoom/platform';
import type { MemberRole, SessionStatus } from '@coderoom/contracts';
import { DatabaseRepository } from './database.repository.js';

/** A session (collection `sessions`): the state of record of a classroom. */
export interface SessionDocument {
  _id: string;
  title: string;
  status: SessionStatus;
  joinCode: string;
  createdBy: string;
  readOnly: boolean;
  problemIds: string[];
  /** Runs shared with the session (`session:share`): every member may watch them. */
  sharedRuns: string[];
  createdAt: Date;
  closedAt: Date | null;
}

/** A member of a session (collection `memberships`), one document per (session, user). */
export interface MembershipDocument {
  /** `<session>|<user>`. */
  _id: string;
  sessionId: string;
  userId: string;
  name: string;
  role: MemberRole;
  joinedAt: Date;
}

const sessionSchema = new Schema<SessionDocument>(
  {
    _id: { type: String, required: true },
    title: { type: String, required: true },
    status: { type: String, enum: ['open', 'closed'], required: true },
    joinCode: { type: String, required: true },
    createdBy: { type: String, required: true },
    readOnly: { type: Boolean, default: false },
    problemIds: { type: [String], default: [] },
    sharedRuns: { type: [String], default: [] },
    createdAt: { type: Date, required: true },
    closedAt: { type: Date, default: null },
  },
  { collection: 'sessions', versionKey: false, autoIndex: false },
);

const membershipSchema = new Schema<MembershipDocument>(
  {
    _id: { type: String, required: true },
    sessionId: { type: String, required: true },
    userId: { type: String, required: true },
    name: { type: String, required: true },
    role: { type: String, enum: ['instructor', 'student'], required: true },
    joinedAt: { type: Date, required: true },
  },
  { collection: 'memberships', versionKey: false, autoIndex: false },
);

/** A join code held by an open session (collection `join_codes`, the code is the `_id`). */
interface JoinCodeDocument {
  _id: string;
  sessionId: string;
}
const joinCodeSchema = new Schema<JoinCodeDocument>(
  { _id: { type: String, required: true }, sessionId: { type: String, required: true } },
  { collection: 'join_codes', versionKey: false, autoIndex: false },
);

export const membershipId = (sessionId: string, userId: string) => `${sessionId}|${userId}`;

/** Sessions, their members and their join codes in MongoDB. */
@Injectable()
export class SessionRepository implements OnModuleInit {
  private readonly logger = new Logger(SessionRepository.name);
  private readonly sessions: Model<SessionDocument>;
  private readonly members: Model<MembershipDocument>;
  private readonly codes: Model<JoinCodeDocument>;

  constructor(private readonly db: DatabaseRepository) {
    this.sessions = db.connection.model<SessionDocument>('Session', sessionSchema);
    this.members = db.connection.model<MembershipDocument>('Membership', membershipSchema);
    this.codes = db.connection.model<JoinCodeDocument>('JoinCode', joinCodeSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.db.ready();
    await this.members.collection.createIndex({ sessionId: 1, role: 1 });
    await this.members.collection.createIndex({ userId: 1 });
    // A join code is unique among open sessions. Two mechanisms, one enforced by each database:
    // the partial unique index (MongoDB, Atlas, DocumentDB) and the code's claim in join_codes,
    // whose `_id` is the code (unique everywhere; released when the session closes). FerretDB v1
    // has no partial indexes, so there the claim alone holds the rule.
    try {
      await this.sessions.collection.createIndex(
        { joinCode: 1 },
        { unique: true, partialFilterExpression: { status: 'open' }, name: 'joinCode_open' },
      );
    } catch (err) {
      if ((err as { code?: number }).code !== NOT_IMPLEMENTED) throw err;
      this.logger.warn(
        'the database has no partial indexes: join codes are unique by their claim in join_codes only',
      );
    }
  }

  /**
   * Stores a new session with `joinCode` claimed for it; false when the code is taken by an
   * open session (the caller draws another).
   */
  async create(session: SessionDocument, creator: MembershipDocument): Promise<boolean> {
    try {
      await this.codes.create({ _id: session.joinCode, sessionId: session._id });
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
    try {
      await this.sessions.create(session);
    } catch (err) {
      await this.codes.deleteOne({ _id: session.joinCode, sessionId: session._id }).exec();
      if (isDuplicateKey(err)) return false;
      throw err;
    }
    await this.members.create(creator);
    return true;
  }

  find(sessionId: string): Promise<SessionDocument | null> {
    return this.sessions.findById(sessionId).lean<SessionDocument>().exec();
  }

  /** The open session holding `code`, if any. */
  async findOpenByCode(code: string): Promise<SessionDocument | null> {
    const claim = await this.codes.findById(code).lean<JoinCodeDocument>().exec();
    if (!claim) return null;
    const session = await this.find(claim.sessionId);
    return session?.status === 'open' ? session : null;
  }

  /** Whether a closed session had this join code (so a late join is told it is closed). */
  async closedWithCode(code: string): Promise<boolean> {
    return (await this.sessions.exists({ joinCode: code, status: 'closed' }).exec()) !== null;
  }

  membership(sessionId: string, userId: string): Promise<MembershipDocument | null> {
    return this.members.findById(membershipId(sessionId, userId)).lean<MembershipDocument>().exec();
  }

  membersOf(sessionId: string): Promise<MembershipDocument[]> {
    return this.members
      .find({ sessionId })
      .sort({ joinedAt: 1 })
      .lean<MembershipDocument[]>()
      .exec();
  }

  countMembers(sessionId: string): Promise<number> {
    return this.members.countDocuments({ sessionId }).exec();
  }

  countInstructors(sessionId: string): Promise<number> {
    return this.members.countDocuments({ sessionId, role: 'instructor' }).exec();
  }

  /**
   * Adds a member, or changes an existing member's role/name (an upsert: joining twice is
   * harmless). Resolves with the membership as stored.
   */
  async upsertMember(m: MembershipDocument): Promise<void> {
    const { _id, joinedAt, ...fields } = m;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.members
          .updateOne({ _id }, { $set: fields, $setOnInsert: { joinedAt } }, { upsert: true })
          .exec();
        return;
      } catch (err) {
        if (!isDuplicateKey(err) || attempt >= 2) throw err;
      }
    }
  }

  /** Adds a student unless the user is a member already (an instructor stays an instructor). */
  async addStudent(m: MembershipDocument): Promise<MembershipDocument> {
    try {
      await this.members.create(m);
      return m;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const existing = await this.membership(m.sessionId, m.userId);
      if (!existing) throw err;
      return existing;
    }
  }

  async setRole(sessionId: string, userId: string, role: MemberRole): Promise<boolean> {
    const r = await this.members
      .updateOne({ _id: membershipId(sessionId, userId) }, { $set: { role } })
      .exec();
    return r.matchedCount > 0;
  }

  async removeMember(sessionId: string, userId: string): Promise<void> {
    await this.members.deleteOne({ _id: membershipId(sessionId, userId) }).exec();
  }

  async setReadOnly(sessionId: string, readOnly: boolean): Promise<void> {
    await this.sessions.updateOne({ _id: sessionId }, { $set: { readOnly } }).exec();
  }

  /** Closes an open session and releases its join code; false when it was closed already. */
  async close(sessionId: string, joinCode: string): Promise<boolean> {
    const r = await this.sessions
      .updateOne(
        { _id: sessionId, status: 'open' },
        { $set: { status: 'closed', closedAt: new Date() } },
      )
      .exec();
    await this.codes.deleteOne({ _id: joinCode, sessionId }).exec();
    return r.modifiedCount > 0;
  }

  /** The user's memberships in sessions that hold the problem. */
  async membershipsHolding(userId: string, problemId: string): Promise<MembershipDocument[]> {
    const sessions = await this.sessions
      .find({ problemIds: problemId }, { _id: 1 })
      .lean<{ _id: string }[]>()
      .exec();
    if (sessions.length === 0) return [];
    return this.members
      .find({ userId, sessionId: { $in: sessions.map((s) => s._id) } })
      .lean<MembershipDocument[]>()
      .exec();
  }

  /** Sessions a run was shared with. */
  sessionsSharing(runId: string): Promise<{ _id: string }[]> {
    return this.sessions.find({ sharedRuns: runId }, { _id: 1 }).lean<{ _id: string }[]>().exec();
  }

  async addSharedRun(sessionId: string, runId: string): Promise<void> {
    await this.sessions.updateOne({ _id: sessionId }, { $addToSet: { sharedRuns: runId } }).exec();
  }
}
