import { describe, expect, it } from '@jest/globals';
import { CLIENT_EVENTS, emptySchema } from '@coderoom/contracts';
import { anyone, defineEvent, roles, type EventFamily } from './client-event.js';
import { eventTable } from './socket.gateway.js';

const declare = (...events: (typeof CLIENT_EVENTS)[number][]): EventFamily => ({
  events: events.map((e) =>
    defineEvent(e, { schema: emptySchema, allow: anyone, handle: () => ({}) }),
  ),
});

describe('eventTable', () => {
  it('holds every client event of the contracts, once', () => {
    const table = eventTable([declare(...CLIENT_EVENTS)]);
    expect([...table.keys()].sort()).toEqual([...CLIENT_EVENTS].sort());
  });

  it('refuses a missing declaration, a doubled one and one the contracts do not know', () => {
    const [first, ...rest] = CLIENT_EVENTS;
    expect(() => eventTable([declare(...rest)])).toThrow(`without a declaration: ${first}`);
    expect(() => eventTable([declare(...CLIENT_EVENTS), declare(first)])).toThrow(
      `event ${first} is declared twice`,
    );
    const stray: EventFamily = {
      events: [{ ...declare(first).events[0], event: 'run:explode' as typeof first }],
    };
    expect(() => eventTable([declare(...CLIENT_EVENTS), stray])).toThrow(
      /not in the contracts: run:explode/,
    );
  });
});

describe('roles', () => {
  it('lets the listed roles through and refuses the others with FORBIDDEN', () => {
    const instructors = roles('instructor', 'admin');
    expect(() => instructors({ id: 'a', name: 'A', role: 'admin' }, undefined)).not.toThrow();
    expect(() => instructors({ id: 's', name: 'S', role: 'student' }, undefined)).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN' }),
    );
  });
});
