import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { OutputChunk, RunFinishedEvent, RunWatchResult } from '@coderoom/contracts';
import { startRun, startStack, text, until, type ClientSocket, type Stack } from './harness.js';

let stack: Stack;
let token: string;

const LINES = 40;
const source = `import time\nfor i in range(${LINES}):\n    print(f"line {i:03d} " + "z" * 30, flush=True)\n    time.sleep(0.075)\n`;
const expected = Array.from(
  { length: LINES },
  (_, i) => `line ${String(i).padStart(3, '0')} ${'z'.repeat(30)}\n`,
).join('');

beforeAll(async () => {
  stack = await startStack({ name: 'resume', redisDb: 6, gateways: 2 });
  token = await stack.token('rita');
}, 90_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

/** Watches a run on `s` from `afterSeq` and collects chunks until run:finished. */
async function watchToEnd(s: ClientSocket, runId: string, afterSeq: number) {
  const live: OutputChunk[] = [];
  let finished: RunFinishedEvent | null = null;
  s.on('run:output', (c) => c.runId === runId && live.push(c));
  s.on('run:finished', (e) => e.runId === runId && (finished = e));
  const ack = await s.emitWithAck('run:watch', { runId, afterSeq });
  if (!ack.ok) throw new Error(JSON.stringify(ack));
  const { backlog, run } = ack as { ok: true } & RunWatchResult;
  if (run.result) finished = { runId, ...run.result };
  await until('run:finished on the watcher', () => finished !== null, 20_000);
  return { chunks: [...backlog, ...live], finished: finished! };
}

it('streams a run started through node A to a watcher on node B', async () => {
  const a = await stack.connect(token, { url: stack.urls[0] });
  const b = await stack.connect(token, { url: stack.urls[1] });
  const run = await startRun(a, { language: 'python', source });
  await until('output on node A', () => run.outputs.length >= 2, 20_000);
  const watched = await watchToEnd(b, run.runId, 0);
  expect(watched.finished.verdict).toBe('OK');
  expect(watched.chunks.map((c) => c.seq)).toEqual(watched.chunks.map((_, i) => i + 1));
  expect(text(watched.chunks)).toBe(expected);
  expect(text((await run.done()).outputs)).toBe(expected);
  a.disconnect();
  b.disconnect();
}, 60_000);

it('loses nothing when the gateway dies mid-stream and the client resumes on another node', async () => {
  const a = await stack.connect(token, { url: stack.urls[0] });
  const run = await startRun(a, { language: 'python', source });
  await until('some output before the crash', () => run.outputs.length >= 5, 20_000);
  await stack.killGateway(0);
  const held = [...run.outputs];
  const lastSeq = held[held.length - 1].seq;
  expect(lastSeq).toBeLessThan(LINES); // the crash really was mid-stream

  const b = await stack.connect(token, { url: stack.urls[1] });
  const rest = await watchToEnd(b, run.runId, lastSeq);
  const all = [...held, ...rest.chunks];
  expect(all.map((c) => c.seq)).toEqual(all.map((_, i) => i + 1));
  expect(text(all)).toBe(expected);
  expect(rest.finished.verdict).toBe('OK');
  b.disconnect();
}, 60_000);
