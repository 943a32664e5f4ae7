import { afterEach, describe, expect, it } from '@jest/globals';
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import type { MemberRole } from '@coderoom/contracts';
import type { CoderoomError } from '../errors.js';
import { fakeClient, FakeDocServer, flush, until } from '../testing/classroom.js';
import { CoderoomYjsProvider } from './provider.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

/** A member's client in the fake server's session, with a Y.Doc bound by a provider. */
async function peer(server: FakeDocServer, userId: string, role: MemberRole, doc = new Y.Doc()) {
  const { client, socket } = await fakeClient(userId, (s) => server.attach(s, userId, role));
  const session = await client.joinSession('ABC234');
  const awareness = new Awareness(doc);
  const provider = new CoderoomYjsProvider(session, doc, { awareness });
  // socket.io reconnects by itself after a lost connection; here the fake does, unless paused.
  const reconnects = { auto: true };
  socket.on('disconnect', () => {
    setTimeout(() => {
      if (reconnects.auto && !socket.connected) void socket.handshake();
    }, 1);
  });
  const errors: CoderoomError[] = [];
  provider.on('error', (e) => errors.push(e));
  cleanups.push(() => {
    provider.destroy();
    awareness.destroy();
    client.close();
  });
  const text = doc.getText('main');
  return { socket, client, session, doc, text, awareness, provider, errors, reconnects };
}

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('CoderoomYjsProvider: two peers', () => {
  it('converge under concurrent edits, transient failures, lost acks and updates, an outage; no edit lost', async () => {
    const server = new FakeDocServer();
    const a = await peer(server, 'ada', 'instructor');
    const b = await peer(server, 'bob', 'student');
    await until('both synced', () => a.provider.synced && b.provider.synced);
    const rnd = random(42);
    const tokens: string[] = [];
    for (let step = 0; step < 300; step++) {
      const p = rnd() < 0.5 ? a : b;
      const token = `[${p === a ? 'a' : 'b'}${step}]`;
      tokens.push(token);
      // Between two tokens, so that every token stays whole in the text.
      const current = p.text.toJSON();
      const boundaries = [0, ...[...current].flatMap((c, i) => (c === ']' ? [i + 1] : []))];
      p.text.insert(boundaries[Math.floor(rnd() * boundaries.length)], token);
      if (step === 60) server.failUpdates.push('INTERNAL', 'RATE_LIMITED');
      if (step === 120) server.loseNextAck = true; // stored, but the answer never comes
      if (step === 160) server.loseNextUpdate = true; // the connection drops on the way
      if (step === 200) {
        b.reconnects.auto = false;
        b.socket.drop('transport close');
      }
      if (step === 240) {
        b.reconnects.auto = true;
        await b.socket.handshake();
      }
      if (rnd() < 0.3) await flush();
    }
    await until(
      'everything acknowledged and applied',
      () =>
        a.provider.pending === 0 &&
        b.provider.pending === 0 &&
        a.text.toJSON() === server.text() &&
        b.text.toJSON() === server.text(),
      10_000,
    );
    for (const token of tokens) expect(server.text()).toContain(token);
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  }, 20_000);

  it('applies remote updates without sending them back', async () => {
    const server = new FakeDocServer();
    const a = await peer(server, 'ada', 'instructor');
    const b = await peer(server, 'bob', 'student');
    a.text.insert(0, 'hello');
    await until('bob has it', () => b.text.toJSON() === 'hello');
    await flush(10);
    expect(server.updates.get('ada')).toBe(1);
    expect(server.updates.get('bob')).toBeUndefined();
  });

  it('sends what the doc held before it was attached, and gets what the server has', async () => {
    const server = new FakeDocServer();
    const a = await peer(server, 'ada', 'instructor');
    a.text.insert(0, 'from the server. ');
    await until('stored', () => a.provider.pending === 0);
    const offline = new Y.Doc();
    offline.getText('main').insert(0, 'typed before joining');
    const b = await peer(server, 'bob', 'student', offline);
    await b.provider.flush();
    await until('both', () => a.text.toJSON() === b.text.toJSON());
    expect(server.text()).toContain('typed before joining');
    expect(server.text()).toContain('from the server. ');
  });
});

describe('CoderoomYjsProvider: read-only', () => {
  it('reports FORBIDDEN, does not retry, learns the lock; resumes once unlocked', async () => {
    const server = new FakeDocServer();
    const a = await peer(server, 'ada', 'instructor');
    const b = await peer(server, 'bob', 'student');
    server.readOnly = true;
    b.text.insert(0, 'while locked ');
    await until('refused', () => b.errors.length > 0);
    expect(b.errors.map((e) => e.code)).toEqual(['FORBIDDEN']);
    expect(b.provider.blocked?.code).toBe('FORBIDDEN');
    await until('the lock is known', () => b.session.readOnly);
    expect(b.session.canEdit).toBe(false);
    await expect(b.provider.flush()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    b.text.insert(0, 'still locked ');
    a.text.insert(0, 'teacher ');
    await until('the instructor edit reaches bob', () => b.text.toJSON().includes('teacher'));
    await flush(20);
    expect(server.updates.get('bob')).toBe(1); // not retried
    expect(b.provider.pending).toBe(2);

    server.readOnly = false;
    await b.session.refresh(); // any newer view: a reconnect, or the page asking
    await b.provider.flush();
    await until('converged', () => a.text.toJSON() === b.text.toJSON());
    expect(server.text()).toContain('while locked');
    expect(server.text()).toContain('still locked');
    expect(b.provider.blocked).toBeNull();
  });
});

describe('CoderoomYjsProvider: awareness', () => {
  it('relays awareness both ways, drops others while offline, removes its own on destroy', async () => {
    const server = new FakeDocServer();
    const a = await peer(server, 'ada', 'instructor');
    const b = await peer(server, 'bob', 'student');
    a.awareness.setLocalStateField('user', { name: 'Ada' });
    b.awareness.setLocalStateField('user', { name: 'Bob' });
    await until('bob sees ada', () => b.awareness.getStates().get(a.doc.clientID) !== undefined);
    await until('ada sees bob', () => a.awareness.getStates().get(b.doc.clientID) !== undefined);
    expect(b.awareness.getStates().get(a.doc.clientID)).toEqual({ user: { name: 'Ada' } });

    b.reconnects.auto = false;
    b.socket.drop('transport close');
    expect([...b.awareness.getStates().keys()]).toEqual([b.doc.clientID]);
    b.reconnects.auto = true;
    await b.socket.handshake();
    await until('bob back in sync', () => b.provider.synced);

    a.provider.destroy();
    await until('ada gone for bob', () => !b.awareness.getStates().has(a.doc.clientID));
    // Destroyed: ada's later edits stay local.
    a.text.insert(0, 'local only');
    await flush(20);
    expect(server.text()).toBe('');
  });
});
