import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { LanguageInfo } from '@coderoom/contracts';
import { okEvent, runToEnd, startStack, text, type ClientSocket, type Stack } from './harness.js';

// TypeScript runs by transpiling only (a type error is not a run failure in a playground); its
// `+typecheck` version type-checks first, where a type error is CE with tsc's message.

let stack: Stack;
let s: ClientSocket;

beforeAll(async () => {
  stack = await startStack({ name: 'typescript', redisDb: 45 });
  s = await stack.connect(await stack.token('tess'));
}, 90_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

const TYPE_ERROR = "const n: number = 'text';\nconsole.log(n);\n";

it('lists the type-checked variant as a version of typescript', async () => {
  const { languages } = await okEvent(s, 'languages:list', {});
  const ts = languages.find((l: LanguageInfo) => l.id === 'typescript');
  expect(ts?.versions).toEqual([ts?.version, `${ts?.version}+typecheck`]);
  expect(languages.map((l: LanguageInfo) => l.id)).not.toContain('typescript-typecheck');
});

it('runs a program with a type error by default', async () => {
  const run = await runToEnd(s, { language: 'typescript', source: TYPE_ERROR }, 60_000);
  expect(run.finished.verdict).toBe('OK');
  expect(text(run.outputs, 'stdout')).toBe('text\n');
  expect(text(run.outputs, 'compile')).toBe('');
});

it('refuses it as CE with the compiler message when asked to type-check', async () => {
  const { languages } = await okEvent(s, 'languages:list', {});
  const version = languages.find((l: LanguageInfo) => l.id === 'typescript')?.versions?.[1];
  const run = await runToEnd(s, { language: 'typescript', version, source: TYPE_ERROR }, 60_000);
  expect(run.finished.verdict).toBe('CE');
  expect(text(run.outputs, 'compile')).toContain('TS2322');
  expect(text(run.outputs, 'stdout')).toBe('');
});

it('still refuses a syntax error as CE without type-checking', async () => {
  const run = await runToEnd(
    s,
    { language: 'typescript', source: 'const n: number = ;\nconsole.log(n);\n' },
    60_000,
  );
  expect(run.finished.verdict).toBe('CE');
  expect(text(run.outputs, 'compile')).toContain('TS1109');
});
