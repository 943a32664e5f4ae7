import { describe, expect, it, jest } from '@jest/globals';
import type { RunResult } from '@coderoom/contracts';
import { RunRepository } from './run.repository.js';

// When the worker reads back a stored end (the logic only, on a model stand-in; the writes
// themselves race the gateway's on the real database in server/test/run-store.e2e.spec.ts).
const ok: RunResult = { verdict: 'OK', exitCode: 0, timeMs: 5 } as RunResult;

type Stored = { status: string; ownerId?: string };
function repoWith(
  writes: ({ upsertedCount: number; matchedCount: number } | Error)[],
  reads: Stored[] = [],
) {
  const updateOne = jest.fn(() => {
    const next = writes.shift() ?? { upsertedCount: 0, matchedCount: 1 };
    return { exec: () => (next instanceof Error ? Promise.reject(next) : Promise.resolve(next)) };
  });
  const findById = jest.fn(() => ({
    lean: () => ({
      exec: () => Promise.resolve(reads.shift() ?? { status: 'finished', ownerId: 'u1' }),
    }),
  }));
  const repo = Object.create(RunRepository.prototype) as RunRepository;
  Object.assign(repo, { runs: { updateOne, findById }, logger: { error: jest.fn() } });
  return { repo, updateOne, findById };
}
const duplicate = Object.assign(new Error('E11000 duplicate key'), { code: 11000 });

describe('RunRepository.finish', () => {
  it("does not read back an end written over the gateway's document", async () => {
    const { repo, updateOne, findById } = repoWith([{ upsertedCount: 0, matchedCount: 1 }]);
    await repo.finish('r1', ok, [], null, new Date());
    expect(updateOne).toHaveBeenCalledTimes(1);
    expect(findById).not.toHaveBeenCalled();
  });

  it('reads it back when it created the document, or its start record did', async () => {
    const created = repoWith([{ upsertedCount: 1, matchedCount: 0 }]);
    await created.repo.finish('r2', ok, [], null, new Date());
    expect(created.findById).toHaveBeenCalledTimes(1);

    const startedFirst = repoWith([{ upsertedCount: 0, matchedCount: 1 }]);
    await startedFirst.repo.finish('r3', ok, [], null, new Date(), true);
    expect(startedFirst.findById).toHaveBeenCalledTimes(1);
  });

  it('repeats a write that collided with the gateway creating the document', async () => {
    const { repo, updateOne, findById } = repoWith([duplicate]);
    await repo.finish('r4', ok, [], null, new Date());
    expect(updateOne).toHaveBeenCalledTimes(2);
    expect(findById).toHaveBeenCalledTimes(1);
  });
});
