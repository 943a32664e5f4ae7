import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStack, until, type Stack } from '../../../server/test/harness.js';
import {
  CoderoomClient,
  CoderoomError,
  fetchDevToken,
  type ClientOptions,
  type OutputChunk,
  type Run,
} from '../src/index.js';

let stack: Stack;
const clients: CoderoomClient[] = [];

beforeAll(async () => {
  stack = await startStack({
    name: 'sdk',
    redisDb: 3,
    workerEnv: { RUN_WALL_MS: '15000', WORKER_CONCURRENCY: '3' },
  });
}, 90_000);

afterAll(async () => {
  clients.forEach((c) => c.close());
  await stack?.stop();
});

async function connect(name = 'alice', options: ClientOptions = {}): Promise<CoderoomClient> {
  const client = await CoderoomClient.connect(
    stack.url,
    { getToken: () => stack.token(name) },
    { transports: ['websocket'], ...options },
  );
  clients.push(client);
  return client;
}

/** A Python program printing `n` numbered lines, `gapS` seconds apart. */
function countingProgram(n: number, gapS: number): { source: string; expected: string } {
  return {
    source: `import time\nfor i in range(${n}):\n    print(f"line {i:02d} " + "x" * 40, flush=True)\n    time.sleep(${gapS})\n`,
    expected: Array.from(
      { length: n },
      (_, i) => `line ${String(i).padStart(2, '0')} ${'x'.repeat(40)}\n`,
    ).join(''),
  };
}

const seqs = (chunks: readonly OutputChunk[]) => chunks.map((c) => c.seq);
const oneToN = (chunks: readonly OutputChunk[]) => chunks.map((_, i) => i + 1);

describe('connecting', () => {
  it('connects with a dev token from fetchDevToken and lists the languages', async () => {
    const { token, user } = await fetchDevToken(stack.url, { name: 'alice', role: 'student' });
    expect(user).toMatchObject({ name: 'alice', role: 'student' });
    const client = await CoderoomClient.connect(stack.url, { token });
    clients.push(client);
    expect(client.state).toEqual({ status: 'connected' });
    const ids = (await client.languages()).map((l) => l.id);
    expect(ids).toEqual(expect.arrayContaining(['c', 'javascript', 'python']));
    client.close();
  });

  it('rejects a refused token with CoderoomError UNAUTHORIZED', async () => {
    const err = await CoderoomClient.connect(stack.url, { token: 'garbage' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CoderoomError);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED', source: 'server' });
  });
});

describe('runs', () => {
  let alice: CoderoomClient;
  beforeAll(async () => {
    alice = await connect('alice');
  });

  it('runs hello world in Python: output through the async iterator, then the result', async () => {
    const run = await alice.run({ language: 'python', source: 'print("Hello, World!")' });
    expect(run.id).toEqual(expect.any(String));
    let text = '';
    for await (const chunk of run) text += chunk.data;
    expect(text).toBe('Hello, World!\n');
    const result = await run.result;
    expect(result).toMatchObject({ runId: run.id, verdict: 'OK', exitCode: 0, truncated: false });
    expect(run.status).toBe('finished');
    expect(run.text('stdout')).toBe('Hello, World!\n');
    expect(seqs(run.chunks)).toEqual(oneToN(run.chunks));
  }, 60_000);

  it('streams output while the program runs, with status events on the way', async () => {
    const run = await alice.run({
      language: 'python',
      source:
        'import time\nfor i in range(5):\n    print(f"tick {i}", flush=True)\n    time.sleep(0.3)\n',
    });
    const statuses: string[] = [];
    run.on('status', (e) => statuses.push(e.status));
    const arrivals: number[] = [];
    run.on('output', () => arrivals.push(Date.now()));
    let finishedAt = 0;
    run.on('finished', () => (finishedAt = Date.now()));
    await run.result;
    expect(run.text()).toBe([0, 1, 2, 3, 4].map((i) => `tick ${i}\n`).join(''));
    expect(arrivals.length).toBeGreaterThanOrEqual(4);
    expect(finishedAt - arrivals[0]).toBeGreaterThan(900);
    expect(statuses).toContain('running');
  }, 60_000);

  it('lets a second client watch a run mid-way and see all of it', async () => {
    const { source, expected } = countingProgram(20, 0.06);
    const run = await alice.run({ language: 'python', source });
    await until('some output', () => run.chunks.length >= 3, 20_000);
    const other = await connect('alice');
    const watched = await other.watch(run.id);
    expect(watched.summary).toMatchObject({ runId: run.id, language: 'python' });
    expect(watched.chunks.length).toBeGreaterThanOrEqual(3);
    const [mine, theirs] = await Promise.all([run.result, watched.result]);
    expect(theirs).toEqual(mine);
    expect(watched.text()).toBe(expected);
    expect(seqs(watched.chunks)).toEqual(oneToN(watched.chunks));
    expect(run.text()).toBe(expected);

    // Watching a finished run: everything at once, result already there.
    const late = await other.watch(run.id, { afterSeq: 5 });
    expect(late.done).toBe(true);
    expect(late.chunks[0].seq).toBe(6);
    expect(await late.result).toEqual(mine);
    // Someone else's run is not for bob.
    const bob = await connect('bob');
    await expect(bob.watch(run.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    other.close();
    bob.close();
  }, 60_000);

  it('cancels a run: the result is CANCELLED', async () => {
    const run = await alice.run({
      language: 'python',
      source: 'import time\nprint("started", flush=True)\ntime.sleep(30)\nprint("never")\n',
    });
    await until('the program to start', () => run.text().includes('started'), 20_000);
    await run.cancel();
    const result = await run.result;
    expect(result.verdict).toBe('CANCELLED');
    expect(run.text()).toBe('started\n');
    await expect(run.cancel()).rejects.toMatchObject({ code: 'CONFLICT' });
  }, 60_000);

  it('throws typed errors: INVALID with details, UNSUPPORTED_LANGUAGE, TOO_LARGE', async () => {
    const invalid = await alice.run({ language: 'python' }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(CoderoomError);
    expect(invalid).toMatchObject({ code: 'INVALID', source: 'server' });
    expect((invalid as CoderoomError).details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'source' })]),
    );
    await expect(alice.run({ language: 'klingon', source: 'x' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_LANGUAGE',
      details: { supported: expect.arrayContaining(['python']) },
    });
    await expect(
      alice.run({ language: 'python', source: 'x'.repeat(300_000) }),
    ).rejects.toMatchObject({ code: 'TOO_LARGE' });
    await expect(alice.watch('no-such-run')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(alice.connected).toBe(true);
  }, 60_000);
});

describe('resume without loss', () => {
  it.each([
    ['websocket', 'quick reconnects', { transports: ['websocket'], reconnectionDelay: 100 }],
    ['websocket', 'default backoff', { transports: ['websocket'] }],
    ['polling', 'quick reconnects', { transports: ['polling'], reconnectionDelay: 100 }],
  ] as Array<[string, string, ClientOptions]>)(
    '%s, %s: the transport is closed twice mid-run, the output is complete and exact',
    async (_transport, _what, options) => {
      const client = await connect('carol', options);
      let connects = 0;
      client.on('connect', () => connects++);
      const { source, expected } = countingProgram(40, 0.075);
      const run: Run = await client.run({ language: 'python', source });
      const received: number[] = [];
      run.on('output', (c) => received.push(c.seq));
      const watches: unknown[] = [];
      client.socket.onAnyOutgoing((event, payload) => {
        if (event === 'run:watch') watches.push(payload);
      });

      await until('line 10', () => run.text().includes('line 10'), 20_000);
      client.socket.io.engine.close();
      expect(client.connected).toBe(false);
      await until('a reconnect', () => connects === 1, 20_000);
      await until('line 25', () => run.text().includes('line 25') || run.done, 20_000);
      if (!run.done) {
        client.socket.io.engine.close();
        await until('a second reconnect', () => connects === 2, 20_000);
      }

      const result = await run.result;
      expect(result.verdict).toBe('OK');
      expect(run.text()).toBe(expected);
      expect(seqs(run.chunks)).toEqual(oneToN(run.chunks));
      expect(received).toEqual(seqs(run.chunks));
      expect(run.chunks.length).toBeGreaterThan(1);
      // Each reconnect resumed from where the run was, not from the start.
      expect(watches.length).toBe(connects);
      for (const w of watches) {
        expect(w).toEqual({ runId: run.id, afterSeq: expect.any(Number) });
        expect((w as { afterSeq: number }).afterSeq).toBeGreaterThan(0);
      }
      client.close();
    },
    60_000,
  );

  it('a run that finishes while disconnected ends from the watch answer, output complete', async () => {
    const client = await connect('carol', {
      transports: ['websocket'],
      reconnectionDelay: 3000,
      reconnectionDelayMax: 3000,
      socketOptions: { randomizationFactor: 0 },
    });
    const states: string[] = [];
    client.on('state', (s) => states.push(s.status));
    const { source, expected } = countingProgram(20, 0.05);
    const run = await client.run({ language: 'python', source });
    await until('line 05', () => run.text().includes('line 05'), 20_000);
    client.socket.io.engine.close();
    const result = await run.result;
    expect(result.verdict).toBe('OK');
    expect(run.text()).toBe(expected);
    expect(seqs(run.chunks)).toEqual(oneToN(run.chunks));
    expect(states).toEqual(['reconnecting', 'connected']);
    client.close();
  }, 60_000);
});
