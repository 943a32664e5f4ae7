import { Injectable } from '@nestjs/common';
import { dashboardCodeSchema, dashboardWatchSchema, sessionIdSchema } from '@coderoom/contracts';
import { DashboardService } from '../services/dashboard.service.js';
import { SessionService } from '../services/session.service.js';
import {
  defineEvent,
  type ClientEventDef,
  type EventContext,
  type EventFamily,
} from './client-event.js';
import { instructorOf } from './session.events.js';

/** The instructor's live view of a session. */
@Injectable()
export class DashboardEvents implements EventFamily {
  constructor(
    private readonly dashboards: DashboardService,
    private readonly sessions: SessionService,
  ) {
    // Built here, not as a field: the rules need the injected services.
    this.events = [
      defineEvent('dashboard:watch', {
        schema: dashboardWatchSchema,
        allow: instructorOf(this.sessions),
        handle: async ({ sessionId, afterSeq }, ctx) => {
          const sink = {
            id: ctx.socket.id,
            send: (u: Parameters<typeof ctx.socket.emit<'dashboard:update'>>[1]) =>
              ctx.socket.emit('dashboard:update', u),
          };
          const answer = await this.dashboards.watch(sessionId, sink);
          // Updates that arrived while the snapshot was read follow the ack, never precede it.
          ctx.afterAck(
            () => void this.dashboards.completeWatch(sessionId, sink.id, afterSeq, answer.seq),
          );
          return answer;
        },
      }),
      defineEvent('dashboard:unwatch', {
        schema: sessionIdSchema,
        allow: instructorOf(this.sessions),
        handle: ({ sessionId }, ctx) => {
          this.dashboards.unwatch(sessionId, ctx.socket.id);
          return {};
        },
      }),
      defineEvent('dashboard:code', {
        schema: dashboardCodeSchema,
        allow: instructorOf(this.sessions),
        handle: ({ sessionId, runId }) => this.dashboards.code(sessionId, runId),
      }),
    ];
  }

  readonly events: readonly ClientEventDef[];

  disconnected(ctx: EventContext): void {
    this.dashboards.removeSink(ctx.socket.id);
  }
}
