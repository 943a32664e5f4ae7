import { randomInt, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import {
  CLASSROOM_LIMITS,
  CoderoomError,
  JOIN_CODE_ALPHABET,
  JOIN_CODE_LENGTH,
  type AuthUser,
  type Member,
  type MemberRole,
  type ProblemView,
  type SessionView,
  type SourceFile,
} from '@coderoom/contracts';
import type { ClassroomMessage } from '@coderoom/platform';
import type { CoderoomSocket } from '../gateways/client-event.js';
import { ClassroomBusRepository, sessionRoom } from '../repositories/classroom-bus.repository.js';
import { LanguageRepository } from '../repositories/language.repository.js';
import {
  SessionRepository,
  membershipId,
  type MembershipDocument,
  type SessionDocument,
} from '../repositories/session.repository.js';
import { LatestThrottle } from './latest-throttle.js';
import { ProblemService, problemView } from './problem.service.js';

/** How long a node trusts its cached copy of a session or a membership (changes also evict it). */
const CACHE_MS = 30_000;
/**
 * A node pushes a session's presence to its members at most this often (the latest list). Every
 * run of a member changes it (queued, running, finished) and each push carries every member: a
 * class of 60 submitting every 5 s made ~36 pushes/s of ~7 KiB to every member (deploy/bench).
 */
export const PRESENCE_PUSH_MS = 500;
const CODE_ATTEMPTS = 20;

/** A user's standing in a session: 'instructor' (its instructors, and admins) or 'student'. */
export interface Access {
  session: SessionDocument;
  role: MemberRole;
  /** Null for an admin who is not a member. */
  member: MembershipDocument | null;
}

interface Cached<T> {
  value: T;
  at: number;
}

/**
 * Classroom sessions: creation, joining with a code, membership and roles, presence of the
 * connections in a session, lock, broadcast, sharing runs, closing. MongoDB holds the state of
 * record; Redis (ClassroomBusRepository) what is live.
 */
@Injectable()
export class SessionService {
  private readonly logger = new Logger(SessionService.name);
  private readonly sessions = new Map<string, Cached<SessionDocument | null>>();
  private readonly members = new Map<string, Cached<MembershipDocument | null>>();
  /** Sessions each local connection is in. */
  private readonly entered = new Map<string, Map<string, string>>();
  private readonly presence: LatestThrottle<Member[]>;

  constructor(
    private readonly repo: SessionRepository,
    private readonly problems: ProblemService,
    private readonly languages: LanguageRepository,
    private readonly bus: ClassroomBusRepository,
  ) {
    this.presence = new LatestThrottle(PRESENCE_PUSH_MS, (sessionId, members) =>
      this.bus.toLocalRoom(sessionId, 'session:presence', { sessionId, members }),
    );
    bus.onMessage((m) => this.receive(m));
  }

  // ---------------------------------------------------------------------------------------
  // Access: the rules every classroom event and the run path use.

  /** The session, or NOT_FOUND. Cached per node; every change evicts it on every node. */
  async load(sessionId: string): Promise<SessionDocument> {
    const hit = this.sessions.get(sessionId);
    let session = hit && Date.now() - hit.at < CACHE_MS ? hit.value : undefined;
    if (session === undefined) {
      session = await this.repo.find(sessionId);
      this.sessions.set(sessionId, { value: session, at: Date.now() });
    }
    if (!session) throw new CoderoomError('NOT_FOUND', `session ${sessionId} not found`);
    return session;
  }

  private async membership(sessionId: string, userId: string): Promise<MembershipDocument | null> {
    const key = membershipId(sessionId, userId);
    const hit = this.members.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.value;
    const m = await this.repo.membership(sessionId, userId);
    this.members.set(key, { value: m, at: Date.now() });
    return m;
  }

  /** The user's standing in the session; FORBIDDEN for a non-member (admins are instructors). */
  async access(user: AuthUser, sessionId: string): Promise<Access> {
    const session = await this.load(sessionId);
    const member = await this.membership(sessionId, user.id);
    if (member) return { session, role: member.role, member };
    if (user.role === 'admin') return { session, role: 'instructor', member: null };
    throw new CoderoomError('FORBIDDEN', 'you are not a member of this session');
  }

  async requireInstructor(user: AuthUser, sessionId: string): Promise<Access> {
    const a = await this.access(user, sessionId);
    if (a.role !== 'instructor') {
      throw new CoderoomError('FORBIDDEN', 'only the instructors of this session may do this');
    }
    return a;
  }

  /** CONFLICT once the session is closed. */
  requireOpen(session: SessionDocument): void {
    if (session.status !== 'open') throw new CoderoomError('CONFLICT', 'the session is closed');
  }

  /** Whether the user may read a problem as staff (hidden tests) or as a student, or not at all. */
  async problemReader(
    user: AuthUser,
    problemId: string,
    authorId: string,
  ): Promise<'staff' | 'student' | null> {
    if (user.role === 'admin' || user.id === authorId) return 'staff';
    const mine = await this.repo.membershipsHolding(user.id, problemId);
    if (mine.some((m) => m.role === 'instructor')) return 'staff';
    return mine.length > 0 ? 'student' : null;
  }

  // ---------------------------------------------------------------------------------------
  // Events.

  async create(
    user: AuthUser,
    title: string,
    problemIds: string[],
    socket: CoderoomSocket | null,
  ): Promise<SessionView> {
    const ids = [...new Set(problemIds)];
    const found = await this.problems.loadMany(ids);
    // A session may hold the problems its creator may read as staff (hidden tests included).
    for (const id of ids) {
      const p = found.find((f) => f._id === id);
      if (!p || (await this.problemReader(user, id, p.authorId)) !== 'staff') {
        throw new CoderoomError('NOT_FOUND', `problem ${id} not found`);
      }
    }
    const now = new Date();
    const sessionId = randomUUID();
    const creator: MembershipDocument = {
      _id: membershipId(sessionId, user.id),
      sessionId,
      userId: user.id,
      name: user.name,
      role: 'instructor',
      joinedAt: now,
    };
    for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt++) {
      const session: SessionDocument = {
        _id: sessionId,
        title,
        status: 'open',
        joinCode: drawJoinCode(),
        createdBy: user.id,
        readOnly: false,
        problemIds: ids,
        sharedRuns: [],
        createdAt: now,
        closedAt: null,
      };
      if (await this.repo.create(session, creator)) {
        await this.bus.feed.seed(sessionId, [memberOf(creator, false)], [], []);
        if (socket) await this.enter(socket, session, creator);
        return this.view(session, 'instructor');
      }
    }
    throw new CoderoomError('BUSY', 'no free join code found; try again', { retryAfterMs: 1000 });
  }

  async join(
    user: AuthUser,
    joinCode: string,
    socket: CoderoomSocket | null,
  ): Promise<SessionView> {
    const session = await this.repo.findOpenByCode(joinCode);
    if (!session) {
      // A code may be reused by a later session once its session closed; until then it says so.
      if (await this.repo.closedWithCode(joinCode)) {
        throw new CoderoomError('CONFLICT', 'the session is closed');
      }
      throw new CoderoomError('NOT_FOUND', 'no open session has this join code');
    }
    let member = await this.repo.membership(session._id, user.id);
    if (!member) {
      if ((await this.repo.countMembers(session._id)) >= CLASSROOM_LIMITS.membersPerSession) {
        throw new CoderoomError('CONFLICT', 'the session is full');
      }
      member = await this.repo.addStudent({
        _id: membershipId(session._id, user.id),
        sessionId: session._id,
        userId: user.id,
        name: user.name,
        role: 'student',
        joinedAt: new Date(),
      });
      this.members.delete(member._id);
    }
    // A session closed meanwhile takes no joins (its code was released before the status).
    const fresh = await this.repo.find(session._id);
    if (!fresh) throw new CoderoomError('NOT_FOUND', 'no open session has this join code');
    this.requireOpen(fresh);
    if (socket) await this.enter(socket, fresh, member);
    return this.view(fresh, member.role);
  }

  async get(
    user: AuthUser,
    sessionId: string,
    socket: CoderoomSocket | null,
  ): Promise<SessionView> {
    const { session, role, member } = await this.access(user, sessionId);
    if (socket) await this.enter(socket, session, member);
    return this.view(session, role);
  }

  async leave(user: AuthUser, sessionId: string, socket: CoderoomSocket | null): Promise<void> {
    const { session, role, member } = await this.access(user, sessionId);
    if (socket) await this.exit(socket, sessionId);
    if (!member) return; // an admin looking in
    if (role === 'instructor' && (await this.repo.countInstructors(sessionId)) <= 1) {
      throw new CoderoomError('CONFLICT', 'the last instructor cannot leave; close the session');
    }
    await this.repo.removeMember(sessionId, user.id);
    await this.changed(sessionId);
    await this.bus.feed.apply(session._id, {
      kind: 'member',
      member: memberOf(member, false),
      removed: true,
    });
  }

  async close(user: AuthUser, sessionId: string): Promise<void> {
    const { session } = await this.requireInstructor(user, sessionId);
    if (!(await this.repo.close(sessionId, session.joinCode))) {
      throw new CoderoomError('CONFLICT', 'the session is closed already');
    }
    await this.changed(sessionId);
    this.bus.toRoom(sessionId, 'session:closed', { sessionId });
  }

  async setInstructors(
    user: AuthUser,
    sessionId: string,
    add: string[],
    remove: string[],
  ): Promise<void> {
    const { session } = await this.requireInstructor(user, sessionId);
    this.requireOpen(session);
    const current = await this.repo.membersOf(sessionId);
    const byId = new Map(current.map((m) => [m.userId, m]));
    const instructors = new Set(
      current.filter((m) => m.role === 'instructor').map((m) => m.userId),
    );
    for (const id of add) instructors.add(id);
    for (const id of remove) instructors.delete(id);
    if (instructors.size === 0) {
      throw new CoderoomError('CONFLICT', 'a session keeps at least one instructor');
    }
    for (const id of add) {
      const existing = byId.get(id);
      if (existing?.role === 'instructor') continue;
      const m: MembershipDocument = existing
        ? { ...existing, role: 'instructor' }
        : {
            _id: membershipId(sessionId, id),
            sessionId,
            userId: id,
            name: id,
            role: 'instructor',
            joinedAt: new Date(),
          };
      await this.repo.upsertMember(m);
      await this.bus.feed.apply(sessionId, { kind: 'member', member: memberOf(m, false) });
    }
    for (const id of remove) {
      const existing = byId.get(id);
      if (existing?.role !== 'instructor') continue;
      await this.repo.setRole(sessionId, id, 'student');
      await this.bus.feed.apply(sessionId, {
        kind: 'member',
        member: memberOf({ ...existing, role: 'student' }, false),
      });
    }
    await this.changed(sessionId);
  }

  async lock(user: AuthUser, sessionId: string, readOnly: boolean): Promise<void> {
    const { session } = await this.requireInstructor(user, sessionId);
    this.requireOpen(session);
    await this.repo.setReadOnly(sessionId, readOnly);
    // Not `changed()`: the lock's own message evicts the cached session on every node, each
    // just before it pushes `session:locked` to its members (receive, below).
    this.evict(sessionId);
    await this.bus.feed.locked({
      sessionId,
      readOnly,
      by: { userId: user.id, name: user.name },
    });
  }

  async broadcast(
    user: AuthUser,
    sessionId: string,
    language: string,
    files: SourceFile[],
  ): Promise<void> {
    const { session } = await this.requireInstructor(user, sessionId);
    this.requireOpen(session);
    if (!this.languages.get(language)) {
      throw new CoderoomError('UNSUPPORTED_LANGUAGE', `unsupported language "${language}"`);
    }
    this.bus.toRoom(sessionId, 'session:broadcast', {
      sessionId,
      from: { userId: user.id, name: user.name },
      language,
      files,
    });
  }

  /** `session:share`: the run's owner must be a member (checked by the caller with the run). */
  async share(user: AuthUser, sessionId: string, runId: string): Promise<void> {
    const { session } = await this.access(user, sessionId);
    this.requireOpen(session);
    await this.repo.addSharedRun(sessionId, runId);
    await this.changed(sessionId);
    this.bus.toRoom(sessionId, 'session:shared', { sessionId, runId, userId: user.id });
  }

  /** Whether `user` may watch a run shared with a session they are a member of. */
  async sharedWith(user: AuthUser, runId: string): Promise<boolean> {
    const sessions = await this.repo.sessionsSharing(runId);
    for (const s of sessions) {
      if (await this.membership(s._id, user.id)) return true;
    }
    return false;
  }

  /** Every local connection of `socketId` leaves the sessions it was in. */
  disconnected(socket: CoderoomSocket): void {
    const sessions = this.entered.get(socket.id);
    if (!sessions) return;
    this.entered.delete(socket.id);
    for (const [sessionId, userId] of sessions) {
      this.bus.feed
        .connection(sessionId, 'remove', socket.id, userId, this.bus.nodeId)
        .catch((err: Error) => this.logger.warn(`presence of ${sessionId}: ${err.message}`));
    }
  }

  // ---------------------------------------------------------------------------------------

  /**
   * Puts a connection in a session: its room (live events) and its presence (online). The
   * presence script publishes the change when the member was offline.
   */
  private async enter(
    socket: CoderoomSocket,
    session: SessionDocument,
    member: MembershipDocument | null,
  ): Promise<void> {
    await socket.join(sessionRoom(session._id));
    if (!member) return; // an admin looking in is not a member
    let mine = this.entered.get(socket.id);
    if (!mine) this.entered.set(socket.id, (mine = new Map<string, string>()));
    if (mine.has(session._id)) return;
    mine.set(session._id, member.userId);
    await this.bus.holdSession(session._id);
    await this.bus.feed.connection(
      session._id,
      'add',
      socket.id,
      member.userId,
      this.bus.nodeId,
      memberOf(member, true),
    );
  }

  private async exit(socket: CoderoomSocket, sessionId: string): Promise<void> {
    await socket.leave(sessionRoom(sessionId));
    const userId = this.entered.get(socket.id)?.get(sessionId);
    if (userId === undefined) return;
    this.entered.get(socket.id)?.delete(sessionId);
    await this.bus.feed.connection(sessionId, 'remove', socket.id, userId, this.bus.nodeId);
  }

  /** A session's stored settings or members changed: every node drops its cached copies. */
  private async changed(sessionId: string): Promise<void> {
    this.evict(sessionId);
    await this.bus.feed.invalidate(sessionId);
  }

  private evict(sessionId: string): void {
    this.sessions.delete(sessionId);
    const prefix = `${sessionId}|`;
    for (const key of this.members.keys()) if (key.startsWith(prefix)) this.members.delete(key);
  }

  private receive(m: ClassroomMessage): void {
    switch (m.t) {
      case 's':
        this.evict(m.s);
        return;
      case 'p':
        this.presence.push(m.s, m.m);
        return;
      case 'l':
        this.evict(m.s);
        this.bus.toLocalRoom(m.s, 'session:locked', m.e);
        return;
      case 'd':
        return;
      default: {
        const never: never = m;
        throw new Error(`unknown classroom message ${JSON.stringify(never)}`);
      }
    }
  }

  /** The session as the reader may see it. */
  async view(session: SessionDocument, role: MemberRole): Promise<SessionView> {
    const [state, problems] = await Promise.all([
      this.bus.feed.state(session._id),
      this.problems.loadMany(session.problemIds),
    ]);
    const stored = await this.repo.membersOf(session._id);
    const live = new Map(state.members.map((m) => [m.userId, m]));
    const reader = role === 'instructor' ? 'staff' : 'student';
    const byId = new Map(problems.map((p) => [p._id, p]));
    const views: ProblemView[] = session.problemIds
      .map((id) => byId.get(id))
      .filter((p) => p !== undefined)
      .map((p) => problemView(p, reader));
    return {
      sessionId: session._id,
      title: session.title,
      status: session.status,
      role,
      readOnly: session.readOnly,
      ...(role === 'instructor' ? { joinCode: session.joinCode } : {}),
      members: stored.map((m) => ({
        userId: m.userId,
        name: m.name,
        role: m.role,
        online: live.get(m.userId)?.online ?? false,
        activity: live.get(m.userId)?.activity ?? null,
      })),
      problems: views,
      createdAt: session.createdAt.toISOString(),
    };
  }
}

/** A member as the live state records it. */
export function memberOf(m: MembershipDocument, online: boolean) {
  return { userId: m.userId, name: m.name, role: m.role, online };
}

/** A join code: JOIN_CODE_LENGTH characters of the unambiguous alphabet. */
export function drawJoinCode(): string {
  let code = '';
  for (let i = 0; i < JOIN_CODE_LENGTH; i++) {
    code += JOIN_CODE_ALPHABET[randomInt(JOIN_CODE_ALPHABET.length)];
  }
  return code;
}
