import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from '@jest/globals';
import type { LanguageDefinition, RunStartPayload } from '@coderoom/contracts';
import { loadLanguages } from '@coderoom/platform';
import { REPO, text, type RunRecord } from './harness.js';

// The checks every language passes on every sandbox tier (languages.e2e.spec.ts runs them once
// per entry of tiers.ts): its test program prints OK; its io program computes from stdin, writes
// stderr and exits with its own code; a compiled language answers CE for a source that is not a
// program (and, for some, with the compiler's message), never running it.

export const LANGUAGES_DIR = path.join(REPO, 'sandbox', 'languages');
export const languages = [...loadLanguages(LANGUAGES_DIR).values()];

/** The `run:start` fields that pick a definition: its language and, for another version, that. */
export const target = (l: LanguageDefinition) =>
  l.versionOf ? { language: l.versionOf, version: l.version } : { language: l.id };
/** A program of the definition's folder; another version's are its language's. */
export const readProgram = (l: LanguageDefinition, file: string) =>
  readFileSync(path.join(LANGUAGES_DIR, l.versionOf ?? l.id, file), 'utf8');

/**
 * What a runtime itself writes on stderr of every program, known and left in: trixie's GnuCOBOL
 * 3.2 was built against libxml2 2.12 and runs with trixie's 2.9, and libcob says so (a Debian
 * packaging bug; the program's own output is unaffected). Only this exact line is removed.
 */
const RUNTIME_STDERR: Record<string, string> = {
  cobol: 'Warning: program compiled against libxml 212 using older 209\n',
};
export const programStderr = (l: LanguageDefinition, stderr: string) => {
  const noise = RUNTIME_STDERR[l.versionOf ?? l.id];
  return noise && stderr.startsWith(noise) ? stderr.slice(noise.length) : stderr;
};

/** Not a program in any language: every compiled language must answer CE. */
const NOT_A_PROGRAM = 'this is ) not ( a program @@ in any language }\n';

/** A compile error per compiled language: verdict CE, the program never runs. */
const COMPILE_ERROR: Record<string, { source: string; message: string }> = {
  c: { source: 'int main(void) { return nope; }\n', message: 'nope' },
  cpp: { source: 'int main() { return nope; }\n', message: 'nope' },
  // A syntax error: the default version only transpiles (type errors: typescript.e2e.spec.ts).
  typescript: { source: 'const n: number = ;\nconsole.log(n);\n', message: 'TS1109' },
  java: {
    source: 'public class Main { public static void main(String[] a) { int x = "s"; } }\n',
    message: 'incompatible types',
  },
  go: { source: 'package main\n\nfunc main() { x := 1 }\n', message: 'declared and not used: x' },
  rust: { source: 'fn main() { let x: u32 = "s"; }\n', message: 'mismatched types' },
};

export interface LanguageCheck {
  title: string;
  payload: RunStartPayload;
  verify(run: RunRecord): void;
}

/** The checks of one language (a definition: another version is checked on its own). */
export function languageChecks(language: LanguageDefinition): LanguageCheck[] {
  const checks: LanguageCheck[] = [
    {
      title: 'runs its test program: verdict OK, stdout exactly "OK\\n"',
      payload: { ...target(language), source: readProgram(language, language.testProgram) },
      verify(run) {
        expect({
          verdict: run.finished.verdict,
          stdout: text(run.outputs, 'stdout'),
          stderr: programStderr(language, text(run.outputs, 'stderr')),
          compile: text(run.outputs, 'compile'),
        }).toEqual({ verdict: 'OK', stdout: 'OK\n', stderr: '', compile: '' });
        expect(run.finished.exitCode).toBe(0);
        expect(run.statuses.map((s) => s.status)).toEqual(
          language.compile ? ['queued', 'compiling', 'running'] : ['queued', 'running'],
        );
      },
    },
    {
      title:
        'computes from stdin, writes stderr and exits with its own code (ioProgram: 6 7 -> 42, warn, 3)',
      payload: {
        ...target(language),
        source: readProgram(language, language.ioProgram ?? ''),
        stdin: '6 7\n',
      },
      verify(run) {
        expect(language.ioProgram).toBeDefined();
        expect({
          verdict: run.finished.verdict,
          exitCode: run.finished.exitCode,
          stdout: text(run.outputs, 'stdout'),
          stderr: programStderr(language, text(run.outputs, 'stderr')),
        }).toEqual({ verdict: 'RE', exitCode: 3, stdout: '42\n', stderr: 'warn\n' });
      },
    },
  ];
  if (language.compile) {
    checks.push({
      title: 'answers CE for a source that is not a program, and never runs it',
      payload: { ...target(language), source: NOT_A_PROGRAM },
      verify(run) {
        expect(run.finished.verdict).toBe('CE');
        expect(
          text(run.outputs, 'compile').length + text(run.outputs, 'stderr').length,
        ).toBeGreaterThan(0);
        expect(text(run.outputs, 'stdout')).toBe('');
        expect(run.statuses.map((s) => s.status)).toEqual(['queued', 'compiling']);
      },
    });
  }
  const compileError = COMPILE_ERROR[language.versionOf ?? language.id];
  if (language.compile && compileError) {
    checks.push({
      title: 'reports a compile error as CE with the compiler message',
      payload: { ...target(language), source: compileError.source },
      verify(run) {
        expect(run.finished.verdict).toBe('CE');
        expect(text(run.outputs, 'compile')).toContain(compileError.message);
        expect(text(run.outputs, 'stdout')).toBe('');
        expect(run.statuses.map((s) => s.status)).toEqual(['queued', 'compiling']);
      },
    });
  }
  return checks;
}
