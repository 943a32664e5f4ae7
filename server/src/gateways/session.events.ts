import { Injectable } from '@nestjs/common';
import {
  sessionBroadcastSchema,
  sessionCreateSchema,
  sessionIdSchema,
  sessionInstructorsSchema,
  sessionJoinSchema,
  sessionLockSchema,
  sessionShareSchema,
  type AuthUser,
} from '@coderoom/contracts';
import { RunService } from '../services/run.service.js';
import { SessionService } from '../services/session.service.js';
import {
  anyone,
  defineEvent,
  roles,
  type Allow,
  type ClientEventDef,
  type EventContext,
  type EventFamily,
} from './client-event.js';

/** Members of the session named by the payload (admins too). */
export function memberOf(sessions: SessionService): Allow<{ sessionId: string }> {
  return async (user: AuthUser, { sessionId }) => {
    await sessions.access(user, sessionId);
  };
}

/** Instructors of the session named by the payload (admins too). */
export function instructorOf(sessions: SessionService): Allow<{ sessionId: string }> {
  return async (user: AuthUser, { sessionId }) => {
    await sessions.requireInstructor(user, sessionId);
  };
}

/** The session events (API.md "Sessions (classroom)"): one declaration each. */
@Injectable()
export class SessionEvents implements EventFamily {
  constructor(
    private readonly sessions: SessionService,
    private readonly runs: RunService,
  ) {
    // Built here, not as a field: the rules need the injected services.
    this.events = [
      defineEvent('session:create', {
        schema: sessionCreateSchema,
        allow: roles('instructor', 'admin'),
        cost: 5,
        handle: async ({ title, problemIds }, ctx) => ({
          session: await this.sessions.create(ctx.user, title, problemIds ?? [], ctx.socket),
        }),
      }),
      defineEvent('session:join', {
        schema: sessionJoinSchema,
        allow: anyone,
        // Guessing codes costs: 5 tokens of the socket's budget per attempt.
        cost: 5,
        handle: async ({ joinCode }, ctx) => ({
          session: await this.sessions.join(ctx.user, joinCode, ctx.socket),
        }),
      }),
      defineEvent('session:get', {
        schema: sessionIdSchema,
        allow: memberOf(this.sessions),
        handle: async ({ sessionId }, ctx) => ({
          session: await this.sessions.get(ctx.user, sessionId, ctx.socket),
        }),
      }),
      defineEvent('session:leave', {
        schema: sessionIdSchema,
        allow: memberOf(this.sessions),
        handle: async ({ sessionId }, ctx) => {
          await this.sessions.leave(ctx.user, sessionId, ctx.socket);
          return {};
        },
      }),
      defineEvent('session:close', {
        schema: sessionIdSchema,
        allow: instructorOf(this.sessions),
        handle: async ({ sessionId }, ctx) => {
          await this.sessions.close(ctx.user, sessionId);
          return {};
        },
      }),
      defineEvent('session:instructors', {
        schema: sessionInstructorsSchema,
        allow: instructorOf(this.sessions),
        handle: async ({ sessionId, add, remove }, ctx) => {
          await this.sessions.setInstructors(ctx.user, sessionId, add ?? [], remove ?? []);
          return {};
        },
      }),
      defineEvent('session:lock', {
        schema: sessionLockSchema,
        allow: instructorOf(this.sessions),
        handle: async ({ sessionId, readOnly }, ctx) => {
          await this.sessions.lock(ctx.user, sessionId, readOnly);
          return {};
        },
      }),
      defineEvent('session:broadcast', {
        schema: sessionBroadcastSchema,
        allow: instructorOf(this.sessions),
        cost: 2,
        handle: async ({ sessionId, language, source, files }, ctx) => {
          const language_ = await this.runs.language(language);
          const all = files ?? [{ path: language_.fileName, content: source ?? '' }];
          await this.sessions.broadcast(ctx.user, sessionId, language, all);
          return {};
        },
      }),
      defineEvent('session:share', {
        schema: sessionShareSchema,
        allow: memberOf(this.sessions),
        handle: async ({ sessionId, runId }, ctx) => {
          await this.runs.requireOwner(ctx.user, runId);
          await this.sessions.share(ctx.user, sessionId, runId);
          return {};
        },
      }),
    ];
  }

  readonly events: readonly ClientEventDef[];

  disconnected(ctx: EventContext): void {
    this.sessions.disconnected(ctx.socket);
  }
}
