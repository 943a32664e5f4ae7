import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { OutputChunk } from '@coderoom/contracts';
import { REPO, startStack, text, type Stack } from './harness.js';

const run = promisify(execFile);
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ name: 'third-party', redisDb: 7 });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

// Debian's python3-socketio (installed by the set-up) lives in the system interpreter.
const PYTHON = '/usr/bin/python3';

it('completes a run from Python (python-socketio) using only the documented protocol', async () => {
  const token = await stack.token('pyclient');
  const { stdout } = await run(PYTHON, [
    `${REPO}server/test/clients/third_party_client.py`,
    stack.url,
    token,
    'c',
    '#include <stdio.h>\nint main(void){ for (int i = 0; i < 3; i++) printf("py %d\\n", i); return 0; }',
  ]);
  const got = JSON.parse(stdout) as {
    ack: { ok: boolean; runId: string; status: string };
    statuses: { status: string }[];
    outputs: OutputChunk[];
    finished: { verdict: string; exitCode: number };
    languages: { ok: boolean; languages: { id: string }[] };
  };
  expect(got.ack).toMatchObject({ ok: true, status: 'queued' });
  expect(got.statuses.map((s) => s.status)).toEqual(['queued', 'compiling', 'running']);
  expect(text(got.outputs)).toBe('py 0\npy 1\npy 2\n');
  expect(got.finished).toMatchObject({ runId: got.ack.runId, verdict: 'OK', exitCode: 0 });
  expect(got.languages.ok).toBe(true);
}, 60_000);

it('is refused with "unauthorized" from Python with a bad token', async () => {
  const failed = await run(PYTHON, [
    `${REPO}server/test/clients/third_party_client.py`,
    stack.url,
    'not-a-token',
    'python',
    'print(1)',
  ]).then(
    () => null,
    (e: { code: number; stdout: string }) => e,
  );
  expect(failed?.code).toBe(3);
  const got = JSON.parse(failed!.stdout) as { error: unknown; ack: unknown };
  expect(JSON.stringify(got.error)).toContain('unauthorized');
  expect(got.ack).toBeNull();
}, 60_000);
