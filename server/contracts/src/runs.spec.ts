import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { PAYLOAD_LIMITS } from './limits.js';
import {
  emptySchema,
  filePathSchema,
  outputChunkSchema,
  runFinishedEventSchema,
  runInputSchema,
  runStartSchema,
  runStartTooLarge,
  runStatusEventSchema,
  runSummarySchema,
  runWatchSchema,
  type RunStartRequest,
} from './runs.js';

const ok = (schema: z.ZodType, value: unknown) => schema.safeParse(value).success;
const issuePaths = (schema: z.ZodType, value: unknown) => {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
};

const GOOD_PATHS = [
  'main.py',
  'src/util.py',
  '_private/x',
  'a-b/c_d/e.f',
  'a..b',
  'Makefile',
  'a/b/c/d/e/f.txt', // 6 segments: the limit
  'x'.repeat(PAYLOAD_LIMITS.pathLength),
];
const BAD_PATHS = [
  '',
  '/etc/passwd',
  '../x',
  'a/../b',
  '..',
  '.',
  './x',
  'a/./b',
  'a//b',
  'a/',
  '.hidden',
  'a/.git/config',
  'a b',
  'a\nb',
  'a\\b',
  'main.py\n',
  'é.py',
  'a/b/c/d/e/f/g', // 7 segments
  'x'.repeat(PAYLOAD_LIMITS.pathLength + 1),
];

describe('filePathSchema', () => {
  it.each(GOOD_PATHS)('accepts %j', (p) => {
    expect(ok(filePathSchema, p)).toBe(true);
  });

  it.each(BAD_PATHS)('refuses %j', (p) => {
    expect(ok(filePathSchema, p)).toBe(false);
  });

  it('says why a path is too deep', () => {
    const r = filePathSchema.safeParse('a/b/c/d/e/f/g');
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message)).toEqual([
      `at most ${PAYLOAD_LIMITS.pathDepth} directory levels`,
    ]);
  });

  it('documents the same rule as one JSON Schema pattern, depth included', () => {
    const json = z.toJSONSchema(filePathSchema, { target: 'draft-07' }) as {
      pattern: string;
      maxLength: number;
    };
    const pattern = new RegExp(json.pattern);
    const jsonOk = (p: string) => pattern.test(p) && p.length <= json.maxLength && p.length > 0;
    for (const p of GOOD_PATHS) expect([p, jsonOk(p)]).toEqual([p, true]);
    for (const p of BAD_PATHS) expect([p, jsonOk(p)]).toEqual([p, false]);
  });
});

describe('runStartSchema', () => {
  const file = (path: string, content = 'x') => ({ path, content });

  it('accepts a program as source or as files', () => {
    expect(ok(runStartSchema, { language: 'python', source: 'print(1)' })).toBe(true);
    expect(ok(runStartSchema, { language: 'c', files: [file('main.c'), file('lib/a.h')] })).toBe(
      true,
    );
    expect(
      ok(runStartSchema, {
        language: 'python',
        source: '',
        stdin: 'in',
        mode: 'submit',
        problemId: 'p1',
        sessionId: 's1',
        interactive: false,
      }),
    ).toBe(true);
  });

  it('wants exactly one of source and files', () => {
    expect(issuePaths(runStartSchema, { language: 'python' })).toEqual(['source']);
    expect(
      issuePaths(runStartSchema, { language: 'python', source: 'x', files: [file('a.py')] }),
    ).toEqual(['source']);
  });

  it('refuses duplicate, bad and too many files', () => {
    expect(
      issuePaths(runStartSchema, { language: 'c', files: [file('a.c'), file('a.c')] }),
    ).toEqual(['files']);
    expect(issuePaths(runStartSchema, { language: 'c', files: [file('../a.c')] })).toEqual([
      'files.0.path',
    ]);
    expect(issuePaths(runStartSchema, { language: 'c', files: [] })).toContain('files');
    const many = Array.from({ length: PAYLOAD_LIMITS.files + 1 }, (_, i) => file(`f${i}.c`));
    expect(issuePaths(runStartSchema, { language: 'c', files: many })).toContain('files');
    const enough = many.slice(0, PAYLOAD_LIMITS.files);
    expect(ok(runStartSchema, { language: 'c', files: enough })).toBe(true);
  });

  it('refuses a path used both as a file and as a directory, in any order and depth', () => {
    for (const paths of [
      ['lib', 'lib/mod.py'],
      ['lib/mod.py', 'lib'],
      ['main.py', 'a/b/c.py', 'a/b'],
      ['a', 'a/b/c/d'],
    ]) {
      const r = runStartSchema.safeParse({ language: 'python', files: paths.map((p) => file(p)) });
      expect(r.success).toBe(false);
      expect(r.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
        ['files', expect.stringMatching(/is a file, so it cannot also be a directory of/)],
      ]);
    }
    // Names that only share a prefix are fine.
    const fine = ['lib.py', 'lib/mod.py', 'libx/y.py', 'a/b', 'a/bc/d'];
    expect(ok(runStartSchema, { language: 'python', files: fine.map((p) => file(p)) })).toBe(true);
  });

  it('checks the other fields', () => {
    expect(issuePaths(runStartSchema, { source: 'x' })).toEqual(['language']);
    expect(issuePaths(runStartSchema, { language: '', source: 'x' })).toEqual(['language']);
    expect(issuePaths(runStartSchema, { language: 'python', source: 'x', mode: 'debug' })).toEqual([
      'mode',
    ]);
    expect(issuePaths(runStartSchema, { language: 'python', source: 1 })).toContain('source');
    expect(ok(runStartSchema, null)).toBe(false);
    expect(ok(runStartSchema, 'print(1)')).toBe(false);
  });
});

describe('runStartTooLarge', () => {
  const req = (p: Partial<RunStartRequest>): RunStartRequest => ({ language: 'python', ...p });
  const limit = PAYLOAD_LIMITS.sourceBytes;

  it('allows a source up to the limit, counted in UTF-8 bytes', () => {
    expect(runStartTooLarge(req({ source: 'x'.repeat(limit) }))).toBeNull();
    expect(runStartTooLarge(req({ source: 'x'.repeat(limit + 1) }))).toMatch(/limit/);
    // "é" is 2 bytes: half the limit in characters is already the limit in bytes.
    expect(runStartTooLarge(req({ source: 'é'.repeat(limit / 2) }))).toBeNull();
    expect(runStartTooLarge(req({ source: `${'é'.repeat(limit / 2)}x` }))).toMatch(/limit/);
  });

  it('adds up the contents of all files', () => {
    const half = 'x'.repeat(limit / 2);
    const files = [
      { path: 'a.py', content: half },
      { path: 'b.py', content: half },
    ];
    expect(runStartTooLarge(req({ files }))).toBeNull();
    files.push({ path: 'c.py', content: 'x' });
    expect(runStartTooLarge(req({ files }))).toMatch(/limit/);
  });

  it('limits stdin', () => {
    const stdinLimit = PAYLOAD_LIMITS.stdinBytes;
    expect(runStartTooLarge(req({ source: '', stdin: 'x'.repeat(stdinLimit) }))).toBeNull();
    expect(runStartTooLarge(req({ source: '', stdin: 'x'.repeat(stdinLimit + 1) }))).toMatch(
      /stdin/,
    );
  });
});

describe('the other client payloads', () => {
  it('run:watch takes a non-negative integer afterSeq', () => {
    expect(ok(runWatchSchema, { runId: 'r' })).toBe(true);
    expect(ok(runWatchSchema, { runId: 'r', afterSeq: 0 })).toBe(true);
    expect(issuePaths(runWatchSchema, { runId: 'r', afterSeq: -1 })).toEqual(['afterSeq']);
    expect(issuePaths(runWatchSchema, { runId: 'r', afterSeq: 1.5 })).toEqual(['afterSeq']);
    expect(issuePaths(runWatchSchema, { runId: '' })).toEqual(['runId']);
    expect(issuePaths(runWatchSchema, { runId: 'x'.repeat(65) })).toEqual(['runId']);
  });

  it('run:input bounds data', () => {
    expect(ok(runInputSchema, { runId: 'r', data: 'x', eof: true })).toBe(true);
    const big = 'x'.repeat(PAYLOAD_LIMITS.stdinBytes + 1);
    expect(issuePaths(runInputSchema, { runId: 'r', data: big })).toEqual(['data']);
  });

  it('languages:list takes an empty object or nothing', () => {
    expect(ok(emptySchema, undefined)).toBe(true);
    expect(ok(emptySchema, {})).toBe(true);
    expect(ok(emptySchema, 'x')).toBe(false);
  });
});

describe('server-to-client schemas', () => {
  const runId = 'r1';
  const result = {
    verdict: 'OK',
    exitCode: 0,
    signal: null,
    timeMs: 10,
    memoryKb: null,
    truncated: false,
  };

  it('describe what the server sends', () => {
    expect(ok(outputChunkSchema, { runId, seq: 1, stream: 'stdout', data: 'hi\n' })).toBe(true);
    expect(ok(outputChunkSchema, { runId, seq: 0, stream: 'stdout', data: '' })).toBe(false);
    expect(ok(outputChunkSchema, { runId, seq: 1, stream: 'stdin', data: '' })).toBe(false);
    const at = new Date().toISOString();
    expect(ok(runStatusEventSchema, { runId, status: 'queued', position: 1, at })).toBe(true);
    expect(ok(runStatusEventSchema, { runId, status: 'running', at: 'now' })).toBe(false);
    expect(ok(runStatusEventSchema, { runId, status: 'finished', at })).toBe(false);
    expect(ok(runFinishedEventSchema, { runId, ...result })).toBe(true);
    expect(ok(runFinishedEventSchema, { runId, ...result, memoryKb: 1024, score: 1 })).toBe(true);
    expect(ok(runFinishedEventSchema, { runId, ...result, memoryKb: undefined })).toBe(false);
    expect(ok(runFinishedEventSchema, { runId, ...result, verdict: 'MAYBE' })).toBe(false);
    const summary = {
      runId,
      ownerId: 'u',
      language: 'python',
      mode: 'run',
      status: 'finished',
      createdAt: '2025-01-01T00:00:00.000Z',
      startedAt: null,
      finishedAt: null,
      lastSeq: 0,
      result: null,
    };
    expect(ok(runSummarySchema, summary)).toBe(true);
    expect(ok(runSummarySchema, { ...summary, result })).toBe(true);
    expect(ok(runSummarySchema, { ...summary, result: undefined })).toBe(false);
  });
});
