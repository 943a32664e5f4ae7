import { Injectable, Logger } from '@nestjs/common';
import {
  CoderoomError,
  type DashboardCodeResult,
  type DashboardSnapshot,
  type DashboardUpdate,
  type DashboardWatchResult,
} from '@coderoom/contracts';
import type { ClassroomMessage } from '@coderoom/platform';
import { ClassroomBusRepository } from '../repositories/classroom-bus.repository.js';
import { ProblemRepository } from '../repositories/problem.repository.js';
import { RunRepository } from '../repositories/run.repository.js';
import { SessionRepository, type MembershipDocument } from '../repositories/session.repository.js';
import { memberOf } from './session.service.js';

/** Where a watcher's updates go (a socket in production, a recorder in tests). */
export interface DashboardSink {
  readonly id: string;
  send(u: DashboardUpdate): void;
}

interface Watcher {
  sink: DashboardSink;
  /** The last seq this watcher was given. */
  cursor: number;
  /** While the watch is answered (or a gap is filled), live updates wait here. */
  pending: DashboardUpdate[] | null;
}

/**
 * The instructor's live view. Every node receives every session's dashboard updates in seq
 * order (SessionFeed publishes them from one Lua script); this node forwards them to its local
 * watchers, each from its own cursor. A watch reads the state and its seq in one step, so the
 * snapshot holds exactly the updates up to that seq and each later one is delivered once.
 */
@Injectable()
export class DashboardService {
  private readonly logger = new Logger(DashboardService.name);
  private readonly bySession = new Map<string, Map<string, Watcher>>();

  constructor(
    private readonly bus: ClassroomBusRepository,
    private readonly sessions: SessionRepository,
    private readonly problems: ProblemRepository,
    private readonly runs: RunRepository,
  ) {
    bus.onMessage((m) => this.receive(m));
  }

  /**
   * Subscribes `sink` (its updates held back until `completeWatch`) and answers the snapshot
   * with the seq it covers.
   */
  async watch(sessionId: string, sink: DashboardSink): Promise<DashboardWatchResult> {
    let watchers = this.bySession.get(sessionId);
    if (!watchers) this.bySession.set(sessionId, (watchers = new Map<string, Watcher>()));
    watchers.set(sink.id, { sink, cursor: 0, pending: [] });
    try {
      let state = await this.bus.feed.state(sessionId);
      if (!state.seeded) {
        await this.seed(sessionId);
        state = await this.bus.feed.state(sessionId);
      }
      const snapshot: DashboardSnapshot = {
        sessionId,
        members: state.members,
        runs: state.runs,
        progress: state.progress,
      };
      return { snapshot, seq: Math.max(0, state.seq) };
    } catch (err) {
      this.unwatch(sessionId, sink.id);
      throw err;
    }
  }

  /**
   * After the ack: the updates after `afterSeq` up to the snapshot's `seq` (a resuming client
   * missed them), then those that arrived meanwhile, then live ones.
   */
  async completeWatch(
    sessionId: string,
    sinkId: string,
    afterSeq: number | undefined,
    seq: number,
  ): Promise<void> {
    const w = this.bySession.get(sessionId)?.get(sinkId);
    if (!w) return;
    if (afterSeq !== undefined && afterSeq < seq) {
      for (const u of await this.bus.feed.backlog(sessionId, afterSeq, seq)) w.sink.send(u);
    }
    w.cursor = seq;
    await this.release(sessionId, w);
  }

  /**
   * `dashboard:code`: the program of a run of the session (the caller is one of its
   * instructors). NOT_FOUND for a run of another session, or one whose document the gateway has
   * not written yet (that happens just after `run:start`'s ack).
   */
  async code(sessionId: string, runId: string): Promise<DashboardCodeResult> {
    const run = await this.runs.findProgram(runId);
    if (!run || run.sessionId !== sessionId || !run.ownerId || !run.files?.length) {
      throw new CoderoomError('NOT_FOUND', `run ${runId} of this session not found (yet)`);
    }
    const files = run.files.map(({ path, content }) => ({ path, content }));
    return { runId, userId: run.ownerId, language: run.language ?? '', files };
  }

  unwatch(sessionId: string, sinkId: string): void {
    const watchers = this.bySession.get(sessionId);
    watchers?.delete(sinkId);
    if (watchers?.size === 0) this.bySession.delete(sessionId);
  }

  /** A connection went: it watches nothing any more. */
  removeSink(sinkId: string): void {
    for (const sessionId of [...this.bySession.keys()]) this.unwatch(sessionId, sinkId);
  }

  private receive(m: ClassroomMessage): void {
    if (m.t !== 'd') return;
    const watchers = this.bySession.get(m.u.sessionId);
    if (!watchers) return;
    for (const w of watchers.values()) {
      if (w.pending) {
        w.pending.push(m.u);
        continue;
      }
      if (m.u.seq <= w.cursor) continue;
      if (m.u.seq === w.cursor + 1) {
        w.cursor = m.u.seq;
        w.sink.send(m.u);
        continue;
      }
      // A gap (a message lost while the subscription reconnected): fill it from the log.
      w.pending = [m.u];
      void this.release(m.u.sessionId, w);
    }
  }

  /** Sends what waits in `pending` in seq order, filling gaps from the replay log. */
  private async release(sessionId: string, w: Watcher): Promise<void> {
    for (;;) {
      const waiting = (w.pending ?? [])
        .filter((u) => u.seq > w.cursor)
        .sort((a, b) => a.seq - b.seq);
      if (waiting.length === 0) break;
      if (waiting[0].seq > w.cursor + 1) {
        try {
          const missed = await this.bus.feed.backlog(sessionId, w.cursor, waiting[0].seq - 1);
          for (const u of missed) {
            if (u.seq === w.cursor + 1) {
              w.cursor = u.seq;
              w.sink.send(u);
            }
          }
        } catch (err) {
          this.logger.warn(`dashboard ${sessionId}: cannot fill a gap: ${(err as Error).message}`);
        }
        // Still a gap (the log no longer has it): go on; the client's snapshot has the rest.
        if (waiting[0].seq > w.cursor + 1) w.cursor = waiting[0].seq - 1;
      }
      w.pending = waiting.filter((u) => u.seq > w.cursor);
      for (const u of w.pending) {
        if (u.seq !== w.cursor + 1) break;
        w.cursor = u.seq;
        w.sink.send(u);
      }
    }
    w.pending = null;
  }

  /** Rebuilds a session's live state from MongoDB (it expired, or Redis lost it). */
  private async seed(sessionId: string): Promise<void> {
    const [members, runs, progress] = await Promise.all([
      this.sessions.membersOf(sessionId),
      this.runs.latestOfSession(sessionId),
      this.problems.progress.ofSession(sessionId),
    ]);
    await this.bus.feed.seed(
      sessionId,
      members.map((m: MembershipDocument) => memberOf(m, false)),
      runs,
      progress,
    );
  }
}
