import { describe, expect, it } from '@jest/globals';
import type { LiveRunState } from '../repositories/run-log.repository.js';
import type { StoredRun } from '@coderoom/platform';
import { runView } from './run-view.js';

const createdAt = new Date('2026-01-02T03:04:05.000Z');
const live = (over: Partial<LiveRunState> = {}): LiveRunState => ({
  status: 'queued',
  lastSeq: 0,
  startedAt: null,
  finishedAt: null,
  result: null,
  origin: {
    ownerId: 'u1',
    language: 'python',
    mode: 'run',
    interactive: true,
    createdAt: createdAt.toISOString(),
    sessionId: null,
    problemId: null,
  },
  ...over,
});
const gatewayDoc: StoredRun = {
  _id: 'r1',
  ownerId: 'u1',
  ownerName: 'Ada',
  language: 'python',
  mode: 'run',
  interactive: true,
  createdAt,
  status: 'queued',
  result: null,
  output: [],
  startedAt: null,
  finishedAt: null,
};
const result = {
  verdict: 'OK' as const,
  exitCode: 0,
  signal: null,
  timeMs: 5,
  memoryKb: null,
  truncated: false,
};

describe('runView', () => {
  it('answers from the stored document once the gateway wrote it', () => {
    expect(runView('r1', gatewayDoc, null)).toMatchObject({
      _id: 'r1',
      ownerId: 'u1',
      interactive: true,
      status: 'queued',
      createdAt,
    });
  });

  it('answers from the live state before the document exists', () => {
    expect(runView('r1', null, live())).toEqual({
      _id: 'r1',
      ownerId: 'u1',
      sessionId: null,
      problemId: null,
      language: 'python',
      mode: 'run',
      interactive: true,
      status: 'queued',
      result: null,
      output: [],
      createdAt,
      startedAt: null,
      finishedAt: null,
    });
  });

  it("combines the live state with a worker's partial document written first", () => {
    const partial: StoredRun = {
      _id: 'r1',
      status: 'finished',
      result,
      output: [{ seq: 1, stream: 'stdout', data: 'hi\n' }],
      startedAt: null,
      finishedAt: createdAt,
    };
    expect(runView('r1', partial, live())).toMatchObject({
      ownerId: 'u1',
      status: 'finished',
      result,
      output: [{ seq: 1 }],
    });
  });

  it('finds nothing without a document or a live state that says whose run it is', () => {
    expect(runView('r1', null, null)).toBeNull();
    expect(runView('r1', { _id: 'r1', status: 'running' }, live({ origin: null }))).toBeNull();
  });
});
