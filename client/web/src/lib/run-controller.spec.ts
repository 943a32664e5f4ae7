import { describe, expect, it } from '@jest/globals';
import { CoderoomClient } from '@coderoom/sdk';
import { FakeSocket } from '../../../sdk/src/testing/fake-socket.js';
import { RunController, type OutputEvent } from './run-controller.js';

const at = '2024-01-01T00:00:00.000Z';
const flush = () => new Promise((r) => setTimeout(r, 0));
const finished = (runId: string, verdict = 'OK') => ({
  runId,
  verdict,
  exitCode: 0,
  signal: null,
  timeMs: 12,
  memoryKb: 2048,
  truncated: false,
});

/** A real SDK client on a fake socket: the test plays the server. */
async function setup(now = () => 1000) {
  const f = FakeSocket.factory();
  const pending = CoderoomClient.connect(
    'http://coderoom.test',
    { token: 't' },
    { createSocket: f.create },
  );
  const socket = f.sockets[0];
  await socket.handshake();
  const client = await pending;
  const controller = new RunController(client, now);
  const events: OutputEvent[] = [];
  controller.onOutput((e) => events.push(e));
  return { client, socket, controller, events };
}

const main = [{ path: 'main.py', content: 'print(1)' }];

describe('RunController', () => {
  it('sends one file as source, several as files, with stdin and interactive', async () => {
    const { socket, controller, client } = await setup();
    void controller.start({ language: 'python', files: main, stdin: '', interactive: false });
    expect(socket.last('run:start').payload).toEqual({ language: 'python', source: 'print(1)' });
    socket.last('run:start').answer({ ok: true, runId: 'r1', status: 'queued', position: 1 });
    await flush();
    socket.fire('run:finished', finished('r1'));
    await flush();

    const two = [...main, { path: 'util.py', content: 'x = 1' }];
    void controller.start({ language: 'python', files: two, stdin: '5\n', interactive: true });
    expect(socket.last('run:start').payload).toEqual({
      language: 'python',
      files: two,
      stdin: '5\n',
      interactive: true,
    });
    client.close();
  });

  it('streams chunks to output listeners and folds status, elapsed start and verdict', async () => {
    let clock = 1000;
    const { socket, controller, events, client } = await setup(() => clock);
    void controller.start({ language: 'python', files: main, stdin: '', interactive: false });
    expect(controller.value.phase).toBe('starting');
    expect(events).toEqual([{ kind: 'reset' }]);
    socket.last('run:start').answer({ ok: true, runId: 'r1', status: 'queued', position: 3 });
    await flush();
    expect(controller.value).toMatchObject({ runId: 'r1', phase: 'queued', position: 3 });

    clock = 1500;
    socket.fire('run:status', { runId: 'r1', status: 'running', at });
    expect(controller.value).toMatchObject({ phase: 'running', runningSince: 1500 });
    socket.fire('run:output', { runId: 'r1', seq: 1, stream: 'stdout', data: 'a\n' });
    socket.fire('run:output', { runId: 'r1', seq: 2, stream: 'stderr', data: 'b\n' });
    // A duplicate is dropped by the SDK; the view never sees it.
    socket.fire('run:output', { runId: 'r1', seq: 2, stream: 'stderr', data: 'b\n' });
    expect(events.slice(1)).toEqual([
      { kind: 'chunk', chunk: { runId: 'r1', seq: 1, stream: 'stdout', data: 'a\n' } },
      { kind: 'chunk', chunk: { runId: 'r1', seq: 2, stream: 'stderr', data: 'b\n' } },
    ]);
    socket.fire('run:finished', finished('r1'));
    expect(controller.value).toMatchObject({ phase: 'finished', result: { verdict: 'OK' } });
    expect(controller.busy).toBe(false);
    client.close();
  });

  it('shows a refused start with its code and retryAfterMs', async () => {
    const { socket, controller, client } = await setup();
    void controller.start({ language: 'python', files: main, stdin: '', interactive: false });
    socket.last('run:start').answer({
      ok: false,
      error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 3000 },
    });
    await flush();
    expect(controller.value).toMatchObject({
      phase: 'idle',
      error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 3000 },
    });
    expect(controller.value.errorAt).toEqual(expect.any(Number));
    client.close();
  });

  it('feeds an interactive run line by line, echoes each line, and closes its input', async () => {
    const { socket, controller, events, client } = await setup();
    void controller.start({ language: 'python', files: main, stdin: '', interactive: true });
    socket.last('run:start').answer({ ok: true, runId: 'r1', status: 'queued', position: 1 });
    await flush();
    expect(controller.value.inputClosed).toBe(false);
    void controller.input('bob\n');
    expect(socket.last('run:input').payload).toEqual({ runId: 'r1', data: 'bob\n' });
    expect(events).toContainEqual({ kind: 'echo', data: 'bob\n' });
    socket.last('run:input').answer({ ok: true });
    void controller.endInput();
    expect(socket.last('run:input').payload).toEqual({ runId: 'r1', data: '', eof: true });
    expect(controller.value.inputClosed).toBe(true);
    client.close();
  });

  it('stops a run, also one whose start has not been answered yet', async () => {
    const { socket, controller, client } = await setup();
    void controller.start({ language: 'python', files: main, stdin: '', interactive: false });
    void controller.cancel();
    expect(controller.value.cancelling).toBe(true);
    socket.last('run:start').answer({ ok: true, runId: 'r1', status: 'queued', position: 1 });
    await flush();
    expect(socket.last('run:cancel').payload).toEqual({ runId: 'r1' });
    socket.last('run:cancel').answer({ ok: true });
    socket.fire('run:finished', finished('r1', 'CANCELLED'));
    expect(controller.value).toMatchObject({
      phase: 'finished',
      cancelling: false,
      result: { verdict: 'CANCELLED' },
    });
    client.close();
  });

  it('keeps the output going across a reconnect: the SDK resumes after the last seq', async () => {
    const { socket, controller, events, client } = await setup();
    void controller.start({ language: 'python', files: main, stdin: '', interactive: false });
    socket.last('run:start').answer({ ok: true, runId: 'r1', status: 'running', position: 0 });
    await flush();
    socket.fire('run:output', { runId: 'r1', seq: 1, stream: 'stdout', data: '1\n' });
    socket.drop('transport close');
    await socket.handshake();
    const watch = socket.last('run:watch');
    expect(watch.payload).toEqual({ runId: 'r1', afterSeq: 1 });
    watch.answer({
      ok: true,
      run: {
        runId: 'r1',
        ownerId: 'u',
        language: 'python',
        mode: 'run',
        status: 'running',
        createdAt: at,
        startedAt: at,
        finishedAt: null,
        lastSeq: 3,
        result: null,
      },
      backlog: [
        { runId: 'r1', seq: 2, stream: 'stdout', data: '2\n' },
        { runId: 'r1', seq: 3, stream: 'stdout', data: '3\n' },
      ],
    });
    await flush();
    const data = events.flatMap((e) => (e.kind === 'chunk' ? [e.chunk.data] : []));
    expect(data.join('')).toBe('1\n2\n3\n');
    client.close();
  });

  it('sends the picked version with the run', async () => {
    const { socket, controller, client } = await setup();
    void controller.start({
      language: 'python',
      version: '3.11',
      files: main,
      stdin: '',
      interactive: false,
    });
    expect(socket.last('run:start').payload).toEqual({
      language: 'python',
      version: '3.11',
      source: 'print(1)',
    });
    client.close();
  });

  it("watches someone else's run: backlog then live output; a newer watch unwatches it", async () => {
    const { socket, controller, events, client } = await setup();
    const summary = (runId: string) => ({
      runId,
      ownerId: 'ann',
      language: 'python',
      mode: 'run' as const,
      status: 'running' as const,
      createdAt: at,
      startedAt: at,
      finishedAt: null,
      lastSeq: 1,
      result: null,
    });
    void controller.watch('r7');
    expect(socket.last('run:watch').payload).toEqual({ runId: 'r7', afterSeq: 0 });
    socket.last('run:watch').answer({
      ok: true,
      run: summary('r7'),
      backlog: [{ runId: 'r7', seq: 1, stream: 'stdout', data: 'one\n' }],
    });
    await flush();
    socket.fire('run:output', { runId: 'r7', seq: 2, stream: 'stdout', data: 'two\n' });
    expect(controller.value).toMatchObject({ runId: 'r7', phase: 'running', inputClosed: true });
    const data = () => events.flatMap((e) => (e.kind === 'chunk' ? [e.chunk.data] : []));
    expect(data().join('')).toBe('one\ntwo\n');

    // Two watches in a row: the first one's late answer is dropped, r7 is unwatched.
    void controller.watch('r8');
    const r8 = socket.last('run:watch');
    void controller.watch('r9');
    const r9 = socket.last('run:watch');
    expect(socket.last('run:unwatch').payload).toEqual({ runId: 'r7' });
    r9.answer({ ok: true, run: summary('r9'), backlog: [] });
    await flush();
    r8.answer({ ok: true, run: summary('r8'), backlog: [] });
    await flush();
    expect(controller.value.runId).toBe('r9');
    expect(socket.last('run:unwatch').payload).toEqual({ runId: 'r8' });
    socket.fire('run:output', { runId: 'r7', seq: 3, stream: 'stdout', data: 'late\n' });
    expect(data().join('')).toBe('one\ntwo\n');
    client.close();
  });
});
