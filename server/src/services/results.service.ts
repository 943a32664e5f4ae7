import { Injectable } from '@nestjs/common';
import type { AuthUser } from '@coderoom/contracts';
import { ProblemRepository } from '../repositories/problem.repository.js';
import { SessionRepository } from '../repositories/session.repository.js';
import { maxScoreOf } from './problem.service.js';
import { SessionService } from './session.service.js';

const HEADER = [
  'user_id',
  'name',
  'problem_id',
  'problem',
  'best_score',
  'max_score',
  'attempts',
  'solved_at',
];

/** A session's results for its instructors (CSV, RFC 4180). */
@Injectable()
export class ResultsService {
  constructor(
    private readonly sessions: SessionService,
    private readonly members: SessionRepository,
    private readonly problems: ProblemRepository,
  ) {}

  /** One row per student and problem of the session, students in join order. */
  async csv(user: AuthUser, sessionId: string): Promise<string> {
    const { session } = await this.sessions.requireInstructor(user, sessionId);
    const [members, problems, progress] = await Promise.all([
      this.members.membersOf(sessionId),
      this.problems.findMany(session.problemIds),
      this.problems.progress.ofSession(sessionId),
    ]);
    const byId = new Map(problems.map((p) => [p._id, p]));
    const ordered = session.problemIds.map((id) => byId.get(id)).filter((p) => p !== undefined);
    const of = new Map(progress.map((p) => [`${p.userId}|${p.problemId}`, p]));
    const rows: (string | number)[][] = [HEADER];
    for (const m of members.filter((x) => x.role === 'student')) {
      for (const p of ordered) {
        const got = of.get(`${m.userId}|${p._id}`);
        rows.push([
          m.userId,
          m.name,
          p._id,
          p.title,
          got?.bestScore ?? 0,
          got?.maxScore ?? maxScoreOf(p),
          got?.attempts ?? 0,
          got?.solvedAt ?? '',
        ]);
      }
    }
    return rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
  }
}

/**
 * RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled. A
 * leading `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does not run it as a
 * formula (a student's display name is theirs to choose).
 */
export function csvField(v: string | number): string {
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
