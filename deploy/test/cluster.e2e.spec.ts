import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { io } from 'socket.io-client';
import type { OutputChunk, RunFinishedEvent, RunWatchResult } from '@coderoom/contracts';
import {
  startStack,
  text,
  until,
  type ClientSocket,
  type Stack,
} from '../../server/test/harness.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ name: 'cluster', redisDb: 15, gateways: 2, balancer: true });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

const LINES = 40;
const source = `import time\nfor i in range(${LINES}):\n    print(f"n{i:03d}", flush=True)\n    time.sleep(0.075)\n`;
const expected = Array.from({ length: LINES }, (_, i) => `n${String(i).padStart(3, '0')}\n`).join(
  '',
);

/** Which gateway node holds our socket: the one whose metrics count a connected socket. */
async function servingNode(): Promise<number> {
  for (let i = 0; i < stack.urls.length; i++) {
    const m = await fetch(`${stack.urls[i]}/metrics`).then(
      (r) => r.text(),
      () => '', // a dead node holds nothing
    );
    if (/^coderoom_gateway_sockets 1$/m.test(m)) return i;
  }
  throw new Error('no node holds the socket');
}

it('survives the death of the serving gateway behind the balancer: the client reconnects through it and loses nothing', async () => {
  const token = await stack.token('lb');
  // Long-polling first, then the upgrade: this only works with sticky sessions.
  const s: ClientSocket = io(stack.url, {
    auth: { token },
    withCredentials: true, // keeps the balancer's cookie (Node cookie jar)
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  const chunks: OutputChunk[] = [];
  let finished: RunFinishedEvent | null = null;
  let runId = '';
  const seen = new Set<number>();
  const take = (c: OutputChunk) => {
    if (c.runId !== runId || seen.has(c.seq)) return;
    seen.add(c.seq);
    chunks.push(c);
  };
  s.on('run:output', take);
  s.on('run:finished', (e) => {
    if (e.runId === runId) finished = e;
  });
  const ack = await s.emitWithAck('run:start', { language: 'python', source });
  if (!ack.ok) throw new Error(JSON.stringify(ack));
  runId = ack.runId;
  await until('output before the crash', () => chunks.length >= 5, 20_000);

  const node = await servingNode();
  let reconnected = false;
  s.io.on('reconnect', () => {
    reconnected = true;
    // After a reconnect the new node knows nothing of us: resume from the last seq held.
    const last = Math.max(0, ...seen);
    void s.emitWithAck('run:watch', { runId, afterSeq: last }).then((w) => {
      if (!w.ok) return;
      const r = w as { ok: true } & RunWatchResult;
      r.backlog.forEach(take);
      if (r.run.result) finished = { runId, ...r.run.result };
    });
  });
  await stack.killGateway(node);
  await until('the client to reconnect through the balancer', () => reconnected, 20_000);
  expect(await servingNode()).not.toBe(node);
  await until('run:finished', () => finished !== null, 30_000);

  const ordered = [...chunks].sort((a, b) => a.seq - b.seq);
  expect(ordered.map((c) => c.seq)).toEqual(ordered.map((_, i) => i + 1));
  expect(text(ordered)).toBe(expected);
  expect(finished!.verdict).toBe('OK');
  s.disconnect();
}, 90_000);
