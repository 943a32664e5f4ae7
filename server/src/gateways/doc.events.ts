import { Injectable } from '@nestjs/common';
import { docAwarenessSchema, docSyncSchema, docUpdateSchema } from '@coderoom/contracts';
import { DocService } from '../services/doc.service.js';
import { SessionService } from '../services/session.service.js';
import {
  defineEvent,
  type ClientEventDef,
  type EventContext,
  type EventFamily,
} from './client-event.js';
import { memberOf } from './session.events.js';

/**
 * The shared document (Yjs over the socket). Typing sends many small updates: they cost a
 * quarter of an ordinary event each (a burst of 160 at the default budget).
 */
@Injectable()
export class DocEvents implements EventFamily {
  readonly events: readonly ClientEventDef[];

  constructor(
    private readonly docs: DocService,
    sessions: SessionService,
  ) {
    this.events = [
      defineEvent('doc:sync', {
        schema: docSyncSchema,
        allow: memberOf(sessions),
        handle: async ({ sessionId, stateVector }, ctx) => ({
          update: await this.docs.sync(ctx.user, sessionId, stateVector),
        }),
      }),
      defineEvent('doc:update', {
        schema: docUpdateSchema,
        allow: memberOf(sessions),
        cost: 0.25,
        handle: async ({ sessionId, update }, ctx) => {
          await this.docs.update(ctx.user, sessionId, update, ctx.socket);
          return {};
        },
      }),
      defineEvent('doc:awareness', {
        schema: docAwarenessSchema,
        allow: memberOf(sessions),
        cost: 0.25,
        handle: async ({ sessionId, update }, ctx) => {
          await this.docs.awarenessUpdate(ctx.user, sessionId, update, ctx.socket);
          return {};
        },
      }),
    ];
  }

  disconnected(ctx: EventContext): void {
    this.docs.disconnected(ctx.socket);
  }
}
