import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as Y from 'yjs';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness.js';
import {
  okEvent,
  startStack,
  until,
  type ClientSocket,
  type Stack,
} from '../../server/test/harness.js';

// The shared document across gateway nodes (issue 13, "Tests and numbers"): two members on
// different nodes type into it at once, converge, and the text survives a restart of every
// gateway; awareness crosses nodes and is removed when a connection closes. No balancer: each
// socket names its node. No workers: nothing here runs code.
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    name: 'doc-sync',
    redisDb: 41,
    gateways: 2,
    workers: 0,
    // 1,000 edits per member as fast as the acks come back: at the default budget (20 events/s,
    // a doc:update costing 0.25, i.e. 80 updates/s) the rate limiter, not the document, would be
    // what this test measures. The limiter has its own tests (hostile.e2e.spec.ts).
    gatewayEnv: { SOCKET_EVENTS_PER_SECOND: '2000', SOCKET_EVENT_BURST: '400' },
  });
}, 120_000);

afterAll(async () => {
  if (process.env.DEBUG_LOGS) console.log(stack?.logs());
  await stack?.stop();
}, 60_000);

const ok = okEvent;

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const textOf = (d: Y.Doc) => d.getText('main.py').toJSON();

let users = 0;
async function member(role: 'instructor' | 'student', node: number): Promise<ClientSocket> {
  return stack.connect(await stack.token(`doc-${role}-${++users}`, role), {
    url: stack.urls[node],
  });
}

/** A classroom with its instructor on node 0. */
async function classroom(): Promise<{
  sessionId: string;
  joinCode: string;
  teacher: ClientSocket;
}> {
  const teacher = await member('instructor', 0);
  const { session } = await ok(teacher, 'session:create', { title: 'doc sync' });
  return { sessionId: session.sessionId, joinCode: session.joinCode!, teacher };
}

async function student(joinCode: string, node: number): Promise<ClientSocket> {
  const s = await member('student', node);
  await ok(s, 'session:join', { joinCode });
  return s;
}

/**
 * A member's editor: a Y.Doc whose local changes go out as `doc:update` and which applies the
 * `doc:update` events of the others, as a real client (y-socket.io style) does.
 */
function editor(s: ClientSocket, sessionId: string) {
  const doc = new Y.Doc();
  const outgoing: Uint8Array[] = [];
  let received = 0;
  doc.on('update', (u: Uint8Array, origin: unknown) => {
    if (origin !== 'remote') outgoing.push(u);
  });
  s.on('doc:update', (e) => {
    if (e.sessionId !== sessionId) return;
    received++;
    Y.applyUpdate(doc, bytes(e.update), 'remote');
  });
  return {
    doc,
    received: () => received,
    /** Sends every pending local update; resolves when all are acknowledged. */
    async flush(): Promise<void> {
      const batch = outgoing.splice(0);
      await Promise.all(batch.map((u) => ok(s, 'doc:update', { sessionId, update: b64(u) })));
    },
  };
}

/** A deterministic stream of edits: mostly inserts at varying places, some deletions. */
function* edits(seed: number, tag: string, n: number) {
  let x = seed;
  const rnd = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < n; i++) yield { r: rnd(), del: rnd() < 0.15, ch: `${tag}${i % 10}` };
}

it('converges when two members on different nodes edit at once, and keeps the text through a restart of every gateway', async () => {
  const { sessionId, joinCode, teacher } = await classroom();
  const a = await student(joinCode, 0);
  const b = await student(joinCode, 1);
  const ea = editor(a, sessionId);
  const eb = editor(b, sessionId);
  const et = editor(teacher, sessionId); // a third member, watching only

  const EDITS = 1000;
  const IN_FLIGHT = 20;
  let acked = 0;
  const type = async (e: ReturnType<typeof editor>, seed: number, tag: string) => {
    const text = e.doc.getText('main.py');
    let pending = 0;
    for (const { r, del, ch } of edits(seed, tag, EDITS)) {
      // Each edit is one transaction, so one Yjs update and one doc:update.
      if (del && text.length > 0) text.delete(Math.floor(r * text.length), 1);
      else text.insert(Math.floor(r * (text.length + 1)), ch);
      if (++pending === IN_FLIGHT) {
        await e.flush();
        acked += pending;
        pending = 0;
      }
    }
    await e.flush();
    acked += pending;
  };
  // Interleaved: both type at the same time, each applying the other's edits as they arrive.
  await Promise.all([type(ea, 1, 'a'), type(eb, 2, 'b')]);
  expect(acked).toBe(2 * EDITS);

  await until(
    'every edit relayed to the other members',
    () => ea.received() === EDITS && eb.received() === EDITS && et.received() === 2 * EDITS,
    60_000,
  );
  const text = textOf(ea.doc);
  expect(text.length).toBeGreaterThan(500);
  expect(text).toMatch(/a\d/);
  expect(text).toMatch(/b\d/);
  expect(textOf(eb.doc)).toBe(text);
  expect(textOf(et.doc)).toBe(text);
  const stateVector = Y.encodeStateVector(ea.doc);
  expect(Y.encodeStateVector(eb.doc)).toEqual(stateVector);

  // Every gateway down at once, then up again: nothing of the document is left in memory.
  await Promise.all([stack.stopGateway(0, 'SIGTERM'), stack.stopGateway(1, 'SIGTERM')]);
  await Promise.all([stack.startGateway(0), stack.startGateway(1)]);

  for (const node of [0, 1]) {
    const late = await student(joinCode, node);
    const fresh = new Y.Doc();
    const { update } = await ok(late, 'doc:sync', {
      sessionId,
      stateVector: b64(Y.encodeStateVector(fresh)),
    });
    Y.applyUpdate(fresh, bytes(update));
    expect(textOf(fresh)).toBe(text);
    // Every acknowledged update is in it: the same clocks for both writers, not just the text.
    expect(Y.encodeStateVector(fresh)).toEqual(stateVector);
    late.disconnect();
  }
}, 300_000);

it('relays awareness across nodes and removes a member whose connection closes', async () => {
  const { sessionId, joinCode } = await classroom();
  const a = await student(joinCode, 0);
  const b = await student(joinCode, 1);
  const awareA = new Awareness(new Y.Doc());
  const awareB = new Awareness(new Y.Doc());
  try {
    b.on('doc:awareness', (e) => {
      if (e.sessionId === sessionId) applyAwarenessUpdate(awareB, bytes(e.update), 'remote');
    });
    awareA.setLocalState({ user: { name: 'ada' }, cursor: { index: 7 } });
    await ok(a, 'doc:awareness', {
      sessionId,
      update: b64(encodeAwarenessUpdate(awareA, [awareA.clientID])),
    });
    await until('the state on the other node', () => awareB.getStates().has(awareA.clientID));
    expect(awareB.getStates().get(awareA.clientID)).toEqual({
      user: { name: 'ada' },
      cursor: { index: 7 },
    });

    // The connection closes without a word: the server sends the null state for it.
    a.disconnect();
    await until(
      "the closed connection's state removed on the other node",
      () => !awareB.getStates().has(awareA.clientID),
      15_000,
    );
  } finally {
    awareA.destroy();
    awareB.destroy();
  }
}, 60_000);
