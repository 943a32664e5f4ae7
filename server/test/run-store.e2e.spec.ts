import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { OutputChunk, RunResult } from '@coderoom/contracts';
import type { GatewayConfig } from '../src/config/config.js';
import { DatabaseRepository } from '../src/repositories/database.repository.js';
import { RunRepository, type NewRun } from '../src/repositories/run.repository.js';

/**
 * The gateway stores a run's document after acknowledging it, so its write and the worker's
 * writes (started, finished) may land in any order: each order must end in the same complete
 * document. Real writers of both processes, on the real database.
 */

/** The worker's repository, as the worker process runs it (built by `tsc -b`). */
interface WorkerRuns {
  /** Whether it created the document; the worker hands that to its `finish`. */
  markStarted(runId: string, at: Date): Promise<boolean>;
  finish(
    runId: string,
    result: RunResult,
    output: readonly OutputChunk[],
    startedAt: Date | null,
    finishedAt: Date,
    createdEarlier?: boolean,
  ): Promise<void>;
  onApplicationShutdown(): Promise<void>;
}

let db: DatabaseRepository;
let gateway: RunRepository;
let worker: WorkerRuns;

beforeAll(async () => {
  if (!process.env.MONGODB_URI) throw new Error('MONGODB_URI is not set (see README: Development)');
  const uri = new URL(process.env.MONGODB_URI);
  uri.pathname = '/coderoom-test-run-store';
  db = new DatabaseRepository({ mongodbUri: uri.toString() } as GatewayConfig);
  gateway = new RunRepository(db);
  await db.ready();
  const workerModule = new URL(
    '../../worker/dist/src/repositories/run.repository.js',
    import.meta.url,
  ).href;
  const { RunRepository: WorkerRunRepository } = (await import(workerModule)) as {
    RunRepository: new (config: { mongodbUri: string }) => WorkerRuns;
  };
  worker = new WorkerRunRepository({ mongodbUri: uri.toString() });
}, 30_000);

afterAll(async () => {
  await db?.connection.dropDatabase();
  await Promise.all([db?.onApplicationShutdown(), worker?.onApplicationShutdown()]);
});

const createdAt = new Date('2026-03-04T05:06:07.000Z');
const newRun = (): NewRun => ({
  _id: randomUUID(),
  ownerId: 'u1',
  ownerName: 'Ada',
  language: 'python',
  mode: 'run',
  sessionId: 's1',
  problemId: null,
  files: [{ path: 'main.py', content: 'print(1)' }],
  stdin: '',
  interactive: false,
  createdAt,
  expireAt: new Date(createdAt.getTime() + 86_400_000),
});
const ok: RunResult = {
  verdict: 'OK',
  exitCode: 0,
  signal: null,
  timeMs: 12,
  memoryKb: null,
  truncated: false,
};
const output = (runId: string): OutputChunk[] => [{ runId, seq: 1, stream: 'stdout', data: '1\n' }];
const startedAt = new Date('2026-03-04T05:06:08.000Z');

/**
 * The stored document, with the fields both writers are responsible for. A field missing
 * reads as its initial value (FerretDB v1 drops null and [] from $setOnInsert; MongoDB keeps
 * them), as the gateway's readers take it (services/run-view.ts).
 */
async function stored(run: NewRun) {
  const found = await gateway.find(run._id);
  const doc = found && {
    ...found,
    result: found.result ?? null,
    output: found.output ?? [],
    startedAt: found.startedAt ?? null,
    finishedAt: found.finishedAt ?? null,
  };
  expect(doc).toMatchObject({
    ownerId: 'u1',
    ownerName: 'Ada',
    language: 'python',
    sessionId: 's1',
    files: [{ path: 'main.py', content: 'print(1)' }],
    createdAt,
    expireAt: run.expireAt,
  });
  return doc!;
}

describe('run documents written by the gateway and the worker in any order', () => {
  it('gateway, started, finished (the usual order)', async () => {
    const run = newRun();
    await gateway.create(run);
    expect(await stored(run)).toMatchObject({ status: 'queued', result: null, output: [] });
    await worker.markStarted(run._id, startedAt);
    await worker.finish(run._id, ok, output(run._id), null, new Date());
    expect(await stored(run)).toMatchObject({
      status: 'finished',
      startedAt,
      result: ok,
      output: [{ seq: 1, stream: 'stdout', data: '1\n' }],
    });
  });

  it('a short run: no start record, its end carries the start time', async () => {
    const run = newRun();
    await gateway.create(run);
    await worker.finish(run._id, ok, output(run._id), startedAt, new Date());
    expect(await stored(run)).toMatchObject({ status: 'finished', startedAt, result: ok });
    // And before the gateway's write.
    const early = newRun();
    await worker.finish(early._id, ok, [], startedAt, new Date());
    await gateway.create(early);
    expect(await stored(early)).toMatchObject({ status: 'finished', startedAt, result: ok });
  });

  it('started, gateway, finished', async () => {
    const run = newRun();
    await worker.markStarted(run._id, startedAt);
    await gateway.create(run);
    expect(await stored(run)).toMatchObject({ status: 'running', startedAt, result: null });
    await worker.finish(run._id, ok, output(run._id), null, new Date());
    expect(await stored(run)).toMatchObject({ status: 'finished', startedAt, result: ok });
  });

  it('started, finished, then the gateway: the late write keeps the result', async () => {
    const run = newRun();
    await worker.markStarted(run._id, startedAt);
    await worker.finish(run._id, ok, output(run._id), null, new Date());
    await gateway.create(run);
    expect(await stored(run)).toMatchObject({
      status: 'finished',
      startedAt,
      result: ok,
      output: [{ seq: 1 }],
    });
  });

  it('a start recorded after the end does not reopen the run', async () => {
    const run = newRun();
    await gateway.create(run);
    await worker.finish(run._id, ok, output(run._id), null, new Date());
    await worker.markStarted(run._id, startedAt);
    expect(await stored(run)).toMatchObject({ status: 'finished', result: ok });
    // Also before the gateway's write: the end came first, then the start, then the request.
    const early = newRun();
    await worker.finish(early._id, ok, [], null, new Date());
    await worker.markStarted(early._id, startedAt);
    await gateway.create(early);
    expect(await stored(early)).toMatchObject({ status: 'finished', result: ok });
  });

  it("the gateway's own end (cancelled while queued) before its create", async () => {
    const run = newRun();
    const cancelled: RunResult = { ...ok, verdict: 'CANCELLED', exitCode: null, timeMs: 0 };
    await gateway.finish(run._id, cancelled, [], new Date());
    await gateway.create(run);
    expect(await stored(run)).toMatchObject({ status: 'finished', result: cancelled });
  });

  it('the gateway and the worker writing at the same moment, many times: nothing is lost', async () => {
    // FerretDB v1 rewrites a document whole on update: of two concurrent updates one used to be
    // lost (~70% of pairs here). Both writers check that their write landed and repeat it.
    const runs = Array.from({ length: 40 }, newRun);
    await Promise.all(
      runs.map((run) =>
        Promise.all([
          gateway.create(run),
          worker.finish(run._id, ok, output(run._id), null, new Date()),
        ]),
      ),
    );
    for (const run of runs) {
      expect(await stored(run)).toMatchObject({ status: 'finished', result: ok });
    }
  });

  it('a start record tells whether it created the document (the end is then read back)', async () => {
    const early = newRun();
    expect(await worker.markStarted(early._id, startedAt)).toBe(true);
    await gateway.create(early);
    await worker.finish(early._id, ok, output(early._id), null, new Date(), true);
    expect(await stored(early)).toMatchObject({ status: 'finished', startedAt, result: ok });
    const plain = newRun();
    await gateway.create(plain);
    expect(await worker.markStarted(plain._id, startedAt)).toBe(false);
  });

  it('a repeated create (a retry after an unknown outcome) changes nothing', async () => {
    const run = newRun();
    await gateway.create(run);
    await worker.markStarted(run._id, startedAt);
    await gateway.create(run);
    expect(await stored(run)).toMatchObject({ status: 'running', startedAt });
  });
});
