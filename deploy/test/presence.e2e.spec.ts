import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Ack, Member, SessionView } from '@coderoom/contracts';
import { startStack, until, type ClientSocket, type Stack } from '../../server/test/harness.js';

// Presence across gateway nodes (issue 13): a member whose whole node dies (SIGKILL: no
// disconnect is ever sent, no clean-up runs) shows offline to an instructor on another node
// within 15 s, through the surviving node's liveness sweep (classroom-bus.repository.ts).
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ name: 'presence', redisDb: 42, gateways: 2, workers: 0 });
}, 120_000);

afterAll(async () => {
  if (process.env.DEBUG_LOGS) console.log(stack?.logs());
  await stack?.stop();
}, 60_000);

async function ok<T>(s: ClientSocket, event: string, payload: unknown): Promise<T> {
  const ack = await (s.timeout(20_000).emitWithAck as (e: string, p: unknown) => Promise<Ack<T>>)(
    event,
    payload,
  );
  if (!ack.ok) throw new Error(`${event}: ${ack.error.code} ${ack.error.message}`);
  return ack;
}

it('shows a member offline within 15 s when their gateway node is killed', async () => {
  const teacher = await stack.connect(await stack.token('presence-teacher', 'instructor'), {
    url: stack.urls[0],
  });
  const { session } = await ok<{ session: SessionView }>(teacher, 'session:create', {
    title: 'presence',
  });
  const sessionId = session.sessionId;
  let latest: Member[] = [];
  teacher.on('session:presence', (p) => {
    if (p.sessionId === sessionId) latest = p.members;
  });
  // A name with a space: the sweep reads `<user id> <node id>` entries (user ids may hold them).
  const student = await stack.connect(await stack.token('presence student', 'student'), {
    url: stack.urls[1],
  });
  await ok(student, 'session:join', { joinCode: session.joinCode });
  const studentOnline = () => latest.find((m) => m.role === 'student')?.online;
  await until('the student online, seen from node 0', () => studentOnline() === true);

  await stack.killGateway(1);
  const killedAt = Date.now();
  await until('the student offline, seen from node 0', () => studentOnline() === false, 15_000);
  const took = Date.now() - killedAt;
  expect(took).toBeLessThan(15_000);

  // The stored view agrees, for anyone who asks later.
  const view = await ok<{ session: SessionView }>(teacher, 'session:get', { sessionId });
  expect(view.session.members.find((m) => m.role === 'student')?.online).toBe(false);
  expect(view.session.members.find((m) => m.role === 'instructor')?.online).toBe(true);
}, 60_000);
