import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import type { OutputChunk, RunSummary } from '@coderoom/contracts';
import { startRun, startStack, text, until, type ClientSocket, type Stack } from './harness.js';

let stack: Stack;
let alice: ClientSocket;
let aliceToken: string;

beforeAll(async () => {
  stack = await startStack({
    name: 'api',
    redisDb: 5,
    gatewayEnv: {
      RUN_QUOTAS: JSON.stringify({ student: { concurrent: 2, perMinute: 12 } }),
      BUSY_WAIT_MS: '60000',
      SOCKET_EVENTS_PER_SECOND: '20',
      SOCKET_EVENT_BURST: '40',
    },
    workerEnv: { WORKER_CONCURRENCY: '1', RUN_WALL_MS: '5000' },
  });
  aliceToken = await stack.token('alice');
  alice = await stack.connect(aliceToken);
}, 90_000);

afterAll(async () => {
  if (process.env.DEBUG_LOGS) console.log(stack?.logs());
  await stack?.stop();
}, 30_000);

const http = async (method: string, path: string, token?: string, body?: unknown) => {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('HTTP API', () => {
  it('runs a program with ?wait=true and returns the finished run with its output', async () => {
    const r = await http('POST', '/api/runs?wait=true', aliceToken, {
      language: 'python',
      source: 'print("via http")',
    });
    expect(r.status).toBe(200);
    const { run, output } = r.body as { run: RunSummary; output: OutputChunk[] };
    expect(run).toMatchObject({
      status: 'finished',
      result: { verdict: 'OK' },
      language: 'python',
    });
    expect(text(output)).toBe('via http\n');
    // A finished run says when it ended, also before its stored copy is written (the answer
    // follows run:finished at once), and the stored copy says the same.
    expect(run.finishedAt).not.toBeNull();
    expect(Date.parse(run.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(run.startedAt!));
    const redis = new Redis(stack.redisUrl);
    expect(await redis.hget(`coderoom:run:${run.runId}:state`, 'finishedAt')).toBe(run.finishedAt);
    await redis.quit();

    await until('the stored copy', async () => {
      const again = await http('GET', `/api/runs/${run.runId}`, aliceToken);
      expect(again.status).toBe(200);
      expect(text((again.body as { output: OutputChunk[] }).output)).toBe('via http\n');
      return (again.body as { run: RunSummary }).run.finishedAt === run.finishedAt;
    });
  }, 60_000);

  it('starts a run without waiting and lets the owner poll it', async () => {
    const r = await http('POST', '/api/runs', aliceToken, {
      language: 'javascript',
      source: 'console.log(6*7)',
    });
    expect(r.body).toMatchObject({ ok: true, status: 'queued' });
    const runId = r.body.runId as string;
    let last: Record<string, unknown> = {};
    await until('the run to finish', async () => {
      last = (await http('GET', `/api/runs/${runId}`, aliceToken)).body;
      return (last.run as RunSummary).status === 'finished';
    });
    expect(text(last.output as OutputChunk[])).toBe('42\n');
  }, 60_000);

  it('answers with the documented error codes and HTTP statuses', async () => {
    expect(
      await http('POST', '/api/runs', undefined, { language: 'python', source: '1' }),
    ).toMatchObject({
      status: 401,
      body: { ok: false, error: { code: 'UNAUTHORIZED' } },
    });
    expect(
      await http('POST', '/api/runs', 'not-a-jwt', { language: 'python', source: '1' }),
    ).toMatchObject({
      status: 401,
    });
    expect(await http('POST', '/api/runs', aliceToken, { language: 'python' })).toMatchObject({
      status: 400,
      body: { ok: false, error: { code: 'INVALID' } },
    });
    expect(
      await http('POST', '/api/runs', aliceToken, { language: 'brainfuck', source: '+' }),
    ).toMatchObject({
      status: 400,
      body: { ok: false, error: { code: 'UNSUPPORTED_LANGUAGE' } },
    });
    expect(await http('GET', '/api/runs/nope', aliceToken)).toMatchObject({
      status: 404,
      body: { ok: false, error: { code: 'NOT_FOUND' } },
    });
    const own = await http('POST', '/api/runs?wait=true', aliceToken, {
      language: 'python',
      source: 'print(1)',
    });
    const runId = (own.body.run as RunSummary).runId;
    expect(await http('GET', `/api/runs/${runId}`, await stack.token('bob'))).toMatchObject({
      status: 403,
      body: { ok: false, error: { code: 'FORBIDDEN' } },
    });
  }, 60_000);
});

describe('limits', () => {
  it('refuses a third concurrent run of one user with RATE_LIMITED and accepts again when one ends', async () => {
    const carol = await stack.connect(await stack.token('carol'));
    const sleeper = { language: 'python', source: 'import time\ntime.sleep(20)' };
    const a = await startRun(carol, sleeper);
    const b = await startRun(carol, sleeper);
    expect([a.ack.ok, b.ack.ok]).toEqual([true, true]);
    const c = await carol.emitWithAck('run:start', sleeper);
    expect(c).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    expect((c as { error: { retryAfterMs?: number } }).error.retryAfterMs).toBeGreaterThan(0);
    await carol.emitWithAck('run:cancel', { runId: a.runId });
    expect((await a.done(15_000)).finished.verdict).toBe('CANCELLED');
    const d = await startRun(carol, { language: 'python', source: 'print("again")' });
    expect(d.ack.ok).toBe(true);
    await carol.emitWithAck('run:cancel', { runId: b.runId });
    await b.done(15_000);
    expect(text((await d.done(15_000)).outputs)).toBe('again\n');
    carol.disconnect();
  }, 90_000);

  it('limits runs per minute per user with RATE_LIMITED and the time until the window resets', async () => {
    const frank = await stack.connect(await stack.token('frank'));
    let accepted = 0;
    let refusal: { limit?: string; retryAfterMs?: number; code?: string } | null = null;
    // 12 per minute; a window boundary during the loop can allow up to 24.
    for (let i = 0; i < 26 && !refusal; i++) {
      const r = await startRun(frank, { language: 'python', source: 'pass' });
      if (r.ack.ok) {
        accepted++;
        await r.done(30_000);
      } else {
        refusal = { ...r.ack.error, limit: (r.ack.error.details as { limit?: string }).limit };
      }
    }
    expect(refusal).toMatchObject({ code: 'RATE_LIMITED', limit: 'minute' });
    expect(accepted).toBeGreaterThanOrEqual(12);
    expect(accepted).toBeLessThanOrEqual(24);
    expect(refusal!.retryAfterMs).toBeGreaterThan(0);
    expect(refusal!.retryAfterMs).toBeLessThanOrEqual(60_000);
    frank.disconnect();
  }, 120_000);

  it('answers a flood of events with RATE_LIMITED, then serves the socket normally again', async () => {
    const dave = await stack.connect(await stack.token('dave'));
    const acks = await Promise.all(
      Array.from({ length: 300 }, () => dave.timeout(10_000).emitWithAck('languages:list', {})),
    );
    const limited = acks.filter((a) => !a.ok);
    expect(acks.filter((a) => a.ok).length).toBeGreaterThanOrEqual(40);
    expect(limited.length).toBeGreaterThan(200);
    expect(limited[0]).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    expect(dave.connected).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await dave.emitWithAck('languages:list', {})).toMatchObject({ ok: true });
    dave.disconnect();
  }, 60_000);

  it('rejects binary data where text is expected, and oversized sources, without disconnecting', async () => {
    const erin = await stack.connect(await stack.token('erin'));
    const bin = await erin.emitWithAck('run:start', {
      language: 'python',
      source: Buffer.from('print(1)') as unknown as string,
    });
    expect(bin).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    const big = await erin.emitWithAck('run:start', {
      language: 'python',
      source: '#'.repeat(600_000),
    });
    expect(big).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } });
    const files = await erin.emitWithAck('run:start', {
      language: 'python',
      files: Array.from({ length: 100 }, (_, i) => ({ path: `f${i}.py`, content: '' })),
    });
    expect(files).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    expect(erin.connected).toBe(true);
    erin.disconnect();
  }, 60_000);

  it('survives garbage packets and messages over the size limit; other clients are unaffected', async () => {
    const ws = new WebSocket(
      `${stack.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`,
    );
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    for (const junk of [
      '42garbage',
      '4{}',
      '40/nope,',
      '\u0000\u0001',
      '42["run:start",{"language":',
      '9'.repeat(1000),
    ]) {
      ws.send(junk);
    }
    ws.send(Buffer.alloc(2 * 1024 * 1024, 1)); // over maxHttpBufferSize: the transport is closed
    await until(
      'the raw socket to be closed by the server',
      () => ws.readyState === WebSocket.CLOSED,
      10_000,
    );

    const run = await startRun(alice, { language: 'python', source: 'print("still fine")' });
    expect(text((await run.done()).outputs)).toBe('still fine\n');
    expect((await fetch(`${stack.url}/health`)).status).toBe(200);
  }, 60_000);
});

it('tells queued clients their position as the queue drains', async () => {
  const long = { language: 'python', source: 'import time\ntime.sleep(1.5)\nprint("done")' };
  const users = await Promise.all(
    ['q1', 'q2', 'q3'].map(async (n) => stack.connect(await stack.token(n))),
  );
  const runs = [];
  for (const u of users) runs.push(await startRun(u, long));
  const last = await runs[2].done(30_000);
  const positions = last.statuses.filter((s) => s.status === 'queued').map((s) => s.position);
  // Enqueued behind two runs (at most one of them already taken by the single worker)...
  expect(positions[0]).toBeGreaterThanOrEqual(2);
  // ...then told of each step forward, down to the front.
  expect(positions[positions.length - 1]).toBe(1);
  expect([...positions].sort((x, y) => y! - x!)).toEqual(positions);
  await Promise.all(runs.slice(0, 2).map((r) => r.done(30_000)));
  users.forEach((u) => u.disconnect());
}, 90_000);
