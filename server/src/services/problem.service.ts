import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import {
  CLASSROOM_LIMITS,
  CoderoomError,
  PROBLEM_LIST_MAX,
  type AuthUser,
  type ProblemCreateRequest,
  type ProblemView,
  type SubmitSpec,
} from '@coderoom/contracts';
import { ProblemRepository, type ProblemDocument } from '../repositories/problem.repository.js';
import { LanguageService } from './language.service.js';

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Who reads a problem decides what of its hidden tests they see. */
export type ProblemReader = 'staff' | 'student';

/** Problems: creation, reading (hidden tests stripped for students), the submit job's copy. */
@Injectable()
export class ProblemService {
  constructor(
    private readonly problems: ProblemRepository,
    private readonly languages: LanguageService,
  ) {}

  async create(user: AuthUser, req: ProblemCreateRequest): Promise<ProblemView> {
    let bytes = 0;
    for (const [i, t] of req.tests.entries()) {
      for (const field of ['stdin', 'expected'] as const) {
        const n = utf8Bytes(t[field]);
        if (n > CLASSROOM_LIMITS.testBytes) {
          throw new CoderoomError(
            'TOO_LARGE',
            `tests.${i}.${field} is ${n} bytes; the limit is ${CLASSROOM_LIMITS.testBytes}`,
          );
        }
        bytes += n;
      }
    }
    if (bytes > CLASSROOM_LIMITS.problemBytes) {
      throw new CoderoomError(
        'TOO_LARGE',
        `the tests are ${bytes} bytes together; the limit is ${CLASSROOM_LIMITS.problemBytes}`,
      );
    }
    await this.languages.requireIds([...(req.languages ?? []), ...Object.keys(req.starter ?? {})]);
    const doc: ProblemDocument = {
      _id: randomUUID(),
      authorId: user.id,
      title: req.title,
      statement: req.statement,
      languages: [...new Set(req.languages ?? [])],
      starter: req.starter ?? {},
      limits: req.limits ?? {},
      checker: req.checker ?? 'exact',
      ...(req.tolerance !== undefined ? { tolerance: req.tolerance } : {}),
      tests: req.tests.map((t) => ({
        stdin: t.stdin,
        expected: t.expected,
        points: t.points ?? 1,
        hidden: t.hidden ?? false,
      })),
      createdAt: new Date(),
    };
    await this.problems.create(doc);
    return problemView(doc, 'staff');
  }

  /** The problem, or NOT_FOUND. */
  async load(problemId: string): Promise<ProblemDocument> {
    const p = await this.problems.find(problemId);
    if (!p) throw new CoderoomError('NOT_FOUND', `problem ${problemId} not found`);
    return p;
  }

  /** `problem:list`: the problems the user wrote, newest first, as their author sees them. */
  async listOwn(user: AuthUser): Promise<ProblemView[]> {
    const docs = await this.problems.byAuthor(user.id, PROBLEM_LIST_MAX);
    return docs.map((p) => problemView(p, 'staff'));
  }

  loadMany(ids: string[]): Promise<ProblemDocument[]> {
    return this.problems.findMany(ids);
  }

  /** The job's copy of a problem for a submission in `language` (hidden tests included). */
  submitSpec(p: ProblemDocument, language: string): SubmitSpec {
    if (p.languages.length > 0 && !p.languages.includes(language)) {
      throw new CoderoomError(
        'UNSUPPORTED_LANGUAGE',
        `problem "${p.title}" takes ${p.languages.join(', ')}, not ${language}`,
        { details: { supported: p.languages } },
      );
    }
    return {
      problemId: p._id,
      checker: p.checker,
      ...(p.tolerance !== undefined ? { tolerance: p.tolerance } : {}),
      ...(p.limits.wallMs !== undefined ? { wallMs: p.limits.wallMs } : {}),
      ...(p.limits.memoryMb !== undefined ? { memoryMb: p.limits.memoryMb } : {}),
      tests: p.tests.map((t, index) => ({ index, ...t })),
    };
  }
}

export function maxScoreOf(p: Pick<ProblemDocument, 'tests'>): number {
  return p.tests.reduce((n, t) => n + t.points, 0);
}

/**
 * A problem as a reader may see it: a hidden test's input and expected output only for its
 * author, admins and the instructors of a session holding it ('staff').
 */
export function problemView(p: ProblemDocument, reader: ProblemReader): ProblemView {
  return {
    problemId: p._id,
    title: p.title,
    statement: p.statement,
    languages: p.languages,
    starter: p.starter,
    limits: p.limits,
    checker: p.checker,
    ...(p.tolerance !== undefined ? { tolerance: p.tolerance } : {}),
    maxScore: maxScoreOf(p),
    tests: p.tests.map((t, index) =>
      t.hidden && reader === 'student'
        ? { index, points: t.points, hidden: true }
        : { index, points: t.points, hidden: t.hidden, stdin: t.stdin, expected: t.expected },
    ),
  };
}
