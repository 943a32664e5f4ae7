import { Injectable } from '@nestjs/common';
import {
  emptySchema,
  runIdSchema,
  runInputSchema,
  runStartSchema,
  runWatchSchema,
} from '@coderoom/contracts';
import { RunService } from '../services/run.service.js';
import { anyone, defineEvent, type EventContext, type EventFamily } from './client-event.js';

/**
 * The run events (API.md "Runs"). Who may act on a run (its owner, the instructors of its
 * session, ...) depends on the run, so RunService checks it; the declarations admit anyone.
 */
@Injectable()
export class RunEvents implements EventFamily {
  constructor(private readonly runs: RunService) {}

  readonly events = [
    defineEvent('run:start', {
      schema: runStartSchema,
      allow: anyone,
      handle: (req, ctx) => this.runs.start(ctx.user, req, ctx.sink),
    }),
    defineEvent('run:input', {
      schema: runInputSchema,
      allow: anyone,
      handle: async ({ runId, data, eof }, ctx) => {
        await this.runs.input(ctx.user, runId, data, eof ?? false);
        return {};
      },
    }),
    defineEvent('run:cancel', {
      schema: runIdSchema,
      allow: anyone,
      handle: async ({ runId }, ctx) => {
        await this.runs.cancel(ctx.user, runId);
        return {};
      },
    }),
    defineEvent('run:watch', {
      schema: runWatchSchema,
      allow: anyone,
      handle: async ({ runId, afterSeq }, ctx) => {
        const { answer, deliveredSeq } = await this.runs.watch(
          ctx.user,
          runId,
          afterSeq ?? 0,
          ctx.sink,
        );
        // Live events that arrived while the backlog was read follow the ack, never precede it.
        ctx.afterAck(() => this.runs.completeWatch(runId, ctx.sink.id, deliveredSeq));
        return answer;
      },
    }),
    defineEvent('run:unwatch', {
      schema: runIdSchema,
      allow: anyone,
      handle: ({ runId }, ctx) => {
        this.runs.unwatch(runId, ctx.sink.id);
        return {};
      },
    }),
    defineEvent('languages:list', {
      schema: emptySchema,
      allow: anyone,
      handle: async () => ({ languages: await this.runs.listLanguages() }),
    }),
  ];

  disconnected(ctx: EventContext): void {
    this.runs.disconnect(ctx.sink.id);
  }
}
