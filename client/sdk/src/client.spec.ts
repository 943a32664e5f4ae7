import { describe, expect, it } from '@jest/globals';
import type { OutputChunk, RunStatusEvent } from '@coderoom/contracts';
import { CoderoomClient, type ClientOptions, type ConnectionState } from './client.js';
import { CoderoomError, CoderoomTimeoutError } from './errors.js';
import { FakeSocket } from './testing/fake-socket.js';

const URL = 'http://coderoom.test';
const flush = () => new Promise((r) => setTimeout(r, 0));
const at = '2024-01-01T00:00:00.000Z';
const queued = (runId: string): RunStatusEvent => ({ runId, status: 'queued', position: 2, at });
const chunk = (runId: string, seq: number): OutputChunk => ({
  runId,
  seq,
  stream: 'stdout',
  data: `${seq}\n`,
});
const finishedEvent = (runId: string) => ({
  runId,
  verdict: 'OK' as const,
  exitCode: 0,
  signal: null,
  timeMs: 5,
  memoryKb: null,
  truncated: false,
});
const summary = (runId: string, lastSeq: number, status = 'running') => ({
  runId,
  ownerId: 'u1',
  language: 'python',
  mode: 'run',
  status,
  createdAt: at,
  startedAt: at,
  finishedAt: null,
  lastSeq,
  result: status === 'finished' ? finishedEvent(runId) : null,
});

async function connected(
  credentials: ConstructorParameters<typeof CoderoomClient>[1] = { token: 't0' },
  options: ClientOptions = {},
) {
  const f = FakeSocket.factory();
  const pending = CoderoomClient.connect(URL, credentials, { ...options, createSocket: f.create });
  const socket = f.sockets[0];
  const auth = await socket.handshake();
  const client = await pending;
  return { client, socket, auth };
}

describe('CoderoomClient: connecting', () => {
  it('connects with the token, on the given URL and path, with reconnection on', async () => {
    const { client, socket, auth } = await connected({ token: 'abc' });
    expect(auth).toEqual({ token: 'abc' });
    expect(socket.url).toBe(URL);
    expect(socket.options).toMatchObject({ path: '/socket.io', reconnection: true });
    expect(client.state).toEqual({ status: 'connected' });
    client.close();
    expect(client.state).toEqual({ status: 'closed' });
  });

  it('rejects with UNAUTHORIZED when the server refuses the token', async () => {
    const f = FakeSocket.factory();
    const pending = CoderoomClient.connect(URL, { token: 'bad' }, { createSocket: f.create });
    f.sockets[0].refuse('unauthorized', { code: 'UNAUTHORIZED' });
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoderoomError);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED', source: 'server' });
  });

  it('rejects with CONNECTION_FAILED when getToken fails', async () => {
    const f = FakeSocket.factory();
    const pending = CoderoomClient.connect(
      URL,
      { getToken: () => Promise.reject(new Error('no network')) },
      { createSocket: f.create },
    );
    void f.sockets[0].handshake();
    await expect(pending).rejects.toMatchObject({
      code: 'CONNECTION_FAILED',
      message: 'could not get a token: no network',
      source: 'client',
    });
  });

  it('fetches a fresh token for every attempt, and retries with one after a refusal', async () => {
    let n = 0;
    const states: ConnectionState['status'][] = [];
    const { client, socket, auth } = await connected({
      getToken: () => Promise.resolve(`t${++n}`),
    });
    client.on('state', (s) => states.push(s.status));
    expect(auth).toEqual({ token: 't1' });
    socket.drop('transport close');
    expect(client.state).toEqual({ status: 'reconnecting', reason: 'transport close' });
    socket.refuse('unauthorized', { code: 'UNAUTHORIZED' }); // the token expired meanwhile
    expect(client.state).toMatchObject({ status: 'reconnecting', error: { code: 'UNAUTHORIZED' } });
    await flush(); // the first retry after a refusal is immediate
    expect(socket.connectCalls).toBe(2);
    expect(await socket.handshake()).toEqual({ token: 't2' });
    expect(n).toBe(2);
    expect(client.state).toEqual({ status: 'connected' });
    expect(states).toEqual(['reconnecting', 'reconnecting', 'connected']);
    client.close();
  });

  it('stops, disconnected, when a fixed token is refused on reconnect; reconnect() tries again', async () => {
    const { client, socket } = await connected({ token: 'old' });
    socket.drop('transport close');
    socket.refuse('unauthorized');
    expect(client.state).toMatchObject({ status: 'disconnected', error: { code: 'UNAUTHORIZED' } });
    client.reconnect();
    expect(socket.connectCalls).toBe(2);
    client.close();
  });

  it('retries by itself when a node that is shutting down refuses it with BUSY', async () => {
    const { client, socket } = await connected({ token: 'tk' });
    socket.drop('transport close');
    socket.refuse('shutting down', { code: 'BUSY', retryAfterMs: 30 });
    expect(client.state).toMatchObject({
      status: 'reconnecting',
      error: { code: 'CONNECTION_FAILED' },
    });
    await flush();
    expect(socket.connectCalls).toBe(1); // not before the server's retryAfterMs
    await new Promise((r) => setTimeout(r, 60));
    expect(socket.connectCalls).toBe(2);
    expect(await socket.handshake()).toEqual({ token: 'tk' });
    expect(client.state).toEqual({ status: 'connected' });
    client.close();
  });

  it('keeps trying a first connection refused with BUSY by a node that is starting', async () => {
    const f = FakeSocket.factory();
    const pending = CoderoomClient.connect(URL, { token: 'tk' }, { createSocket: f.create });
    const socket = f.sockets[0];
    socket.refuse('starting', { code: 'BUSY', retryAfterMs: 20 });
    await new Promise((r) => setTimeout(r, 40));
    expect(socket.connectCalls).toBe(2);
    expect(await socket.handshake()).toEqual({ token: 'tk' });
    const client = await pending;
    expect(client.state).toEqual({ status: 'connected' });
    client.close();
  });
});

describe('CoderoomClient: requests', () => {
  it('turns acknowledgements into results and typed errors', async () => {
    const { client, socket } = await connected();
    const langs = client.languages();
    socket.last('languages:list').answer({
      ok: true,
      languages: [{ id: 'python', name: 'Python', version: '3', fileName: 'main.py' }],
    });
    expect((await langs).map((l) => l.id)).toEqual(['python']);

    const bad = client.run({ language: 'python' });
    socket.last('run:start').answer({
      ok: false,
      error: { code: 'INVALID', message: 'invalid payload: source', details: [{ path: 'source' }] },
    });
    const err = (await bad.catch((e: unknown) => e)) as CoderoomError;
    expect(err).toBeInstanceOf(CoderoomError);
    expect(err.toJSON()).toEqual({
      code: 'INVALID',
      message: 'invalid payload: source',
      details: [{ path: 'source' }],
    });

    const busy = client.run({ language: 'python', source: 'x' });
    socket.last('run:start').answer({
      ok: false,
      error: { code: 'BUSY', message: 'queue full', retryAfterMs: 1500 },
    });
    await expect(busy).rejects.toMatchObject({ code: 'BUSY', retryAfterMs: 1500 });
    client.close();
  });

  it('reports a missing acknowledgement as a CoderoomTimeoutError', async () => {
    const { client, socket } = await connected(undefined, { ackTimeoutMs: 1234 });
    const langs = client.languages();
    socket.last('languages:list').fail('operation has timed out');
    const err = await langs.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoderoomTimeoutError);
    expect(err).toMatchObject({ code: 'TIMEOUT', event: 'languages:list', timeoutMs: 1234 });
    client.close();
  });

  it('rejects a request whose connection is lost with DISCONNECTED, and all with CLOSED on close', async () => {
    const { client, socket } = await connected();
    const lost = client.languages();
    socket.drop('transport close');
    await expect(lost).rejects.toMatchObject({ code: 'DISCONNECTED' });
    const buffered = client.languages(); // socket.io would send it on reconnect
    client.close();
    await expect(buffered).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(client.languages()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('CoderoomClient: runs', () => {
  it('replays the events that came before the run:start answer into the handle', async () => {
    const { client, socket } = await connected();
    const started = client.run({ language: 'python', source: 'print(1)' });
    socket.fire('run:status', queued('r1'));
    socket.fire('run:output', chunk('r1', 1));
    socket.fire('run:output', chunk('other', 1));
    socket.last('run:start').answer({ ok: true, runId: 'r1', status: 'queued', position: 2 });
    const run = await started;
    expect(run.id).toBe('r1');
    expect(run.position).toBe(2);
    expect(run.chunks).toEqual([chunk('r1', 1)]);
    socket.fire('run:output', chunk('r1', 2));
    socket.fire('run:finished', finishedEvent('r1'));
    await expect(run.result).resolves.toMatchObject({ verdict: 'OK' });
    expect(run.text()).toBe('1\n2\n');
    expect(client.runs).toEqual([]);
    client.close();
  });

  it('emits what came before the run:start answer to listeners added after the await, in order', async () => {
    const { client, socket } = await connected();
    const started = client.run({ language: 'python', source: 'print(1)' });
    socket.fire('run:status', queued('r1'));
    socket.fire('run:output', chunk('r1', 1));
    socket.last('run:start').answer({ ok: true, runId: 'r1', status: 'queued', position: 0 });
    const run = await started;
    const seen: number[] = [];
    run.on('output', (c) => seen.push(c.seq));
    socket.fire('run:output', chunk('r1', 2)); // live, before the deferred replay has run
    expect(run.chunks.map((c) => c.seq)).toEqual([1, 2]); // the state is current at once
    await new Promise((r) => setTimeout(r, 0));
    expect(seen).toEqual([1, 2]);
    socket.fire('run:output', chunk('r1', 3));
    expect(seen).toEqual([1, 2, 3]);
    client.close();
  });

  it('after a reconnect, re-watches every unfinished run from its lastSeq', async () => {
    const { client, socket } = await connected();
    const starts = [client.run({ language: 'python', source: 'a' })];
    starts.push(client.run({ language: 'python', source: 'b' }));
    const [s1, s2] = socket.pending('run:start');
    s1.answer({ ok: true, runId: 'a', status: 'queued', position: 1 });
    s2.answer({ ok: true, runId: 'b', status: 'queued', position: 2 });
    const [a, b] = await Promise.all(starts);
    socket.fire('run:output', chunk('a', 1));
    socket.fire('run:output', chunk('a', 2));
    socket.fire('run:output', chunk('b', 1));

    socket.drop('transport close');
    await socket.handshake();
    const watches = socket.pending('run:watch');
    expect(watches.map((w) => w.payload)).toEqual([
      { runId: 'a', afterSeq: 2 },
      { runId: 'b', afterSeq: 1 },
    ]);
    watches[0].answer({ ok: true, run: summary('a', 4), backlog: [chunk('a', 3), chunk('a', 4)] });
    watches[1].answer({ ok: true, run: summary('b', 2, 'finished'), backlog: [chunk('b', 2)] });
    await flush();
    socket.fire('run:output', chunk('a', 5));
    socket.fire('run:finished', finishedEvent('a'));
    await expect(a.result).resolves.toMatchObject({ runId: 'a' });
    await expect(b.result).resolves.toMatchObject({ runId: 'b', verdict: 'OK' });
    expect(a.chunks.map((c) => c.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(b.text()).toBe('1\n2\n');
    client.close();
  });

  it('watches a run started elsewhere, from afterSeq', async () => {
    const { client, socket } = await connected();
    const watching = client.watch('w', { afterSeq: 1 });
    expect(socket.last('run:watch').payload).toEqual({ runId: 'w', afterSeq: 1 });
    socket.last('run:watch').answer({ ok: true, run: summary('w', 2), backlog: [chunk('w', 2)] });
    const run = await watching;
    expect(run.status).toBe('running');
    expect(run.chunks.map((c) => c.seq)).toEqual([2]);
    expect(await client.watch('w')).toBe(run);
    socket.fire('run:finished', finishedEvent('w'));
    await expect(run.result).resolves.toMatchObject({ runId: 'w' });

    const missing = client.watch('nope');
    socket.last('run:watch').answer({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'run nope not found' },
    });
    await expect(missing).rejects.toMatchObject({ code: 'NOT_FOUND' });
    client.close();
  });

  it('ends unfinished runs with CLOSED when the client closes', async () => {
    const { client, socket } = await connected();
    const started = client.run({ language: 'python', source: 'x' });
    socket.last('run:start').answer({ ok: true, runId: 'r', status: 'queued', position: 1 });
    const run = await started;
    client.close();
    await expect(run.result).rejects.toMatchObject({ code: 'CLOSED' });
    expect(run.done).toBe(true);
  });
});
