import { describe, expect, it } from '@jest/globals';
import type {
  OutputChunk,
  RunFinishedEvent,
  RunSummary,
  RunTestEvent,
  RunWatchResult,
} from '@coderoom/contracts';
import { CoderoomError } from './errors.js';
import { Run, type RunControl, type RunHost, type RunInit } from './run.js';

interface Sent {
  event: string;
  payload: unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

class FakeHost implements RunHost {
  connected = true;
  epoch = 1;
  readonly sent: Sent[] = [];
  readonly released: Run[] = [];
  request(event: string, payload: unknown): Promise<never> {
    return new Promise((resolve, reject) => this.sent.push({ event, payload, resolve, reject }));
  }
  release(run: Run): void {
    this.released.push(run);
  }
  watches(): Sent[] {
    return this.sent.filter((s) => s.event === 'run:watch');
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0));
const out = (seq: number, data = `${seq}\n`, stream: OutputChunk['stream'] = 'stdout') => ({
  kind: 'run:output' as const,
  event: { runId: 'r', seq, stream, data },
});
const finished = (extra: Partial<RunFinishedEvent> = {}) => ({
  kind: 'run:finished' as const,
  event: fin(extra),
});
const fin = (extra: Partial<RunFinishedEvent> = {}): RunFinishedEvent => ({
  runId: 'r',
  verdict: 'OK',
  exitCode: 0,
  signal: null,
  timeMs: 10,
  memoryKb: null,
  truncated: false,
  ...extra,
});
const summary = (over: Partial<RunSummary> = {}): RunSummary => ({
  runId: 'r',
  ownerId: 'u',
  language: 'python',
  mode: 'run',
  status: 'running',
  createdAt: '2024-01-01T00:00:00.000Z',
  startedAt: '2024-01-01T00:00:01.000Z',
  finishedAt: null,
  lastSeq: 0,
  result: null,
  ...over,
});
const backlog = (...seqs: number[]) => seqs.map((s) => out(s).event);

function makeRun(init: Partial<RunInit> = {}) {
  const host = new FakeHost();
  let control: RunControl | undefined;
  const run = new Run(
    host,
    { runId: 'r', status: 'queued', position: 1, afterSeq: 0, ...init },
    (c) => (control = c),
  );
  return { run, host, control: control! };
}

describe('Run', () => {
  it('collects output in order, drops duplicates, and finishes', async () => {
    const { run, control, host } = makeRun();
    const seen: number[] = [];
    run.on('output', (c) => seen.push(c.seq));
    control.receive(out(1, 'a'));
    control.receive(out(1, 'a'));
    control.receive(out(2, 'b', 'stderr'));
    control.receive(finished());
    expect(seen).toEqual([1, 2]);
    expect(run.text()).toBe('ab');
    expect(run.text('stderr')).toBe('b');
    expect(run.status).toBe('finished');
    expect(run.done).toBe(true);
    await expect(run.result).resolves.toMatchObject({ verdict: 'OK' });
    expect(host.sent).toEqual([]);
    expect(host.released).toEqual([run]);
  });

  it('iterates from the first chunk, then live chunks, and ends after the last one', async () => {
    const { run, control } = makeRun();
    control.receive(out(1));
    const got: number[] = [];
    const done = (async () => {
      for await (const c of run) got.push(c.seq);
    })();
    await flush();
    control.receive(out(2));
    await flush();
    control.receive(out(3));
    control.receive(finished());
    await done;
    expect(got).toEqual([1, 2, 3]);
    // A later iterator sees everything too; one per stream can filter.
    const again: number[] = [];
    for await (const c of run.output({ stream: 'stdout' })) again.push(c.seq);
    expect(again).toEqual([1, 2, 3]);
  });

  it('on a gap, watches from lastSeq, holds what came after, and fills in from the backlog', async () => {
    const { run, control, host } = makeRun();
    control.receive(out(1));
    control.receive(out(4));
    control.receive(out(5));
    expect(run.chunks.map((c) => c.seq)).toEqual([1]);
    // One watch for the gap, not one per chunk after it.
    expect(host.watches().map((w) => w.payload)).toEqual([{ runId: 'r', afterSeq: 1 }]);
    // run:finished waits for the missing output.
    control.receive(finished());
    expect(run.done).toBe(false);
    host.watches()[0].resolve({ run: summary({ lastSeq: 5 }), backlog: backlog(2, 3, 4, 5) });
    await flush();
    expect(run.chunks.map((c) => c.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(run.done).toBe(true);
    await expect(run.result).resolves.toMatchObject({ verdict: 'OK' });
  });

  it('resumes after a reconnect from lastSeq and ignores the answer of the lost connection', async () => {
    const { run, control, host } = makeRun();
    control.receive(out(1));
    control.receive(out(3)); // gap: watch on connection 1
    const lost = host.watches()[0];
    host.connected = false;
    lost.reject(new CoderoomError('DISCONNECTED', 'lost'));
    await flush();
    host.connected = true;
    host.epoch = 2;
    control.resync();
    const again = host.watches()[1];
    expect(again.payload).toEqual({ runId: 'r', afterSeq: 1 });
    again.resolve({ run: summary({ lastSeq: 4 }), backlog: backlog(2, 3, 4) });
    await flush();
    control.receive(out(4)); // a duplicate: never shown twice
    control.receive(out(5));
    expect(run.chunks.map((c) => c.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(run.status).toBe('running');
  });

  it('finishes from the watch summary of a run that ended while disconnected', async () => {
    const { run, control, host } = makeRun();
    const tests: RunTestEvent[] = [
      { runId: 'r', index: 0, verdict: 'AC', timeMs: 1, hidden: false },
      { runId: 'r', index: 1, verdict: 'WA', timeMs: 2, hidden: true },
    ];
    control.receive({ kind: 'run:test', event: tests[0] });
    const seenTests: number[] = [];
    run.on('test', (t) => seenTests.push(t.index));
    host.epoch = 2;
    control.resync();
    const { verdict, exitCode, signal, timeMs, memoryKb, truncated } = fin({ verdict: 'WA' });
    const answer: RunWatchResult = {
      run: summary({
        status: 'finished',
        lastSeq: 2,
        result: { verdict, exitCode, signal, timeMs, memoryKb, truncated, tests, score: 50 },
      }),
      backlog: backlog(1, 2),
    };
    host.watches()[0].resolve(answer);
    await expect(run.result).resolves.toMatchObject({ runId: 'r', verdict: 'WA', score: 50 });
    expect(run.text()).toBe('1\n2\n');
    expect(seenTests).toEqual([1]);
    expect(run.tests.map((t) => t.index)).toEqual([0, 1]);
  });

  it('loses the run if the server no longer knows it: result rejects, iterators throw', async () => {
    const { run, control, host } = makeRun();
    control.receive(out(1));
    const errors: string[] = [];
    run.on('error', (e) => errors.push(e.code));
    host.epoch = 2;
    control.resync();
    host.watches()[0].reject(new CoderoomError('NOT_FOUND', 'run r not found'));
    await expect(run.result).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(errors).toEqual(['NOT_FOUND']);
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const c of run) got.push(c.seq);
      })(),
    ).rejects.toBeInstanceOf(CoderoomError);
    expect(got).toEqual([1]);
  });

  it('skips output the server cannot give back, reports it, and goes on', async () => {
    const { run, control, host } = makeRun();
    const errors: CoderoomError[] = [];
    run.on('error', (e) => errors.push(e));
    control.receive(out(1));
    control.receive(out(4));
    host.watches()[0].resolve({ run: summary({ lastSeq: 4 }), backlog: [] });
    await flush();
    expect(run.chunks.map((c) => c.seq)).toEqual([1, 4]);
    expect(errors[0].details).toEqual({ missing: [[2, 3]] });
    control.receive(out(5));
    expect(run.lastSeq).toBe(5);
  });

  it('retries a watch that timed out', async () => {
    const { run, control, host } = makeRun();
    control.receive(out(2));
    host.watches()[0].reject(new CoderoomError('TIMEOUT', 'slow'));
    await new Promise((r) => setTimeout(r, 600));
    expect(host.watches()).toHaveLength(2);
    host.watches()[1].resolve({ run: summary({ lastSeq: 2 }), backlog: backlog(1, 2) });
    await flush();
    expect(run.lastSeq).toBe(2);
  });

  it('moves status forward only, tracks the queue position, and unsubscribes', () => {
    const { run, control } = makeRun();
    const seen: string[] = [];
    const off = run.on('status', (e) => seen.push(`${e.status}:${e.position ?? ''}`));
    const at = '2024-01-01T00:00:00.000Z';
    control.receive({
      kind: 'run:status',
      event: { runId: 'r', status: 'queued', position: 1, at },
    });
    control.receive({
      kind: 'run:status',
      event: { runId: 'r', status: 'queued', position: 3, at },
    });
    expect(run.position).toBe(3);
    control.receive({ kind: 'run:status', event: { runId: 'r', status: 'running', at } });
    control.receive({ kind: 'run:status', event: { runId: 'r', status: 'compiling', at } });
    expect(run.status).toBe('running');
    expect(run.position).toBeNull();
    off();
    control.receive(finished());
    expect(seen).toEqual(['queued:3', 'running:']);
  });

  it('sends cancel, input and unwatch for its own id', async () => {
    const { run, host } = makeRun();
    const cancelled = run.cancel();
    host.sent[0].resolve({});
    await cancelled;
    const input = run.input('1 2\n', { eof: true });
    host.sent[1].resolve({});
    await input;
    const unwatched = run.unwatch();
    host.sent[2].reject(new CoderoomError('DISCONNECTED', 'lost'));
    await unwatched;
    expect(host.sent.map((s) => [s.event, s.payload])).toEqual([
      ['run:cancel', { runId: 'r' }],
      ['run:input', { runId: 'r', data: '1 2\n', eof: true }],
      ['run:unwatch', { runId: 'r' }],
    ]);
    await expect(run.result).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
