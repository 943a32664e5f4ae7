import { Injectable } from '@nestjs/common';
import {
  CoderoomError,
  type AuthUser,
  type ProblemCreateRequest,
  type ProblemView,
} from '@coderoom/contracts';
import { ProblemService, problemView } from './problem.service.js';
import { SessionService } from './session.service.js';

/**
 * Problems as users reach them (socket and HTTP): who may read one, and what of its hidden
 * tests they see. A problem a user may not read is NOT_FOUND, as if it did not exist.
 */
@Injectable()
export class ProblemAccessService {
  constructor(
    private readonly problems: ProblemService,
    private readonly sessions: SessionService,
  ) {}

  create(user: AuthUser, req: ProblemCreateRequest): Promise<ProblemView> {
    return this.problems.create(user, req);
  }

  /** The problems the user wrote (they are their author: every test shown). */
  list(user: AuthUser): Promise<ProblemView[]> {
    return this.problems.listOwn(user);
  }

  async get(user: AuthUser, problemId: string): Promise<ProblemView> {
    const p = await this.problems.load(problemId);
    const reader = await this.sessions.problemReader(user, problemId, p.authorId);
    if (!reader) throw new CoderoomError('NOT_FOUND', `problem ${problemId} not found`);
    return problemView(p, reader);
  }
}
