import { Injectable } from '@nestjs/common';
import { problemCreateSchema, problemGetSchema, problemListSchema } from '@coderoom/contracts';
import { ProblemAccessService } from '../services/problem-access.service.js';
import { anyone, defineEvent, roles, type EventFamily } from './client-event.js';

/**
 * The problem events: create and list one's own (instructor and admin accounts), get (who may
 * read it).
 */
@Injectable()
export class ProblemEvents implements EventFamily {
  constructor(private readonly problems: ProblemAccessService) {}

  readonly events = [
    defineEvent('problem:create', {
      schema: problemCreateSchema,
      allow: roles('instructor', 'admin'),
      cost: 5,
      handle: async (req, ctx) => ({ problem: await this.problems.create(ctx.user, req) }),
    }),
    defineEvent('problem:list', {
      schema: problemListSchema,
      allow: roles('instructor', 'admin'),
      handle: async (_req, ctx) => ({ problems: await this.problems.list(ctx.user) }),
    }),
    defineEvent('problem:get', {
      schema: problemGetSchema,
      // Who may read it depends on the problem (author, sessions holding it): the service says.
      allow: anyone,
      handle: async ({ problemId }, ctx) => ({
        problem: await this.problems.get(ctx.user, problemId),
      }),
    }),
  ];
}
