import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_RUN_LIMITS,
  languageDefinitionSchema,
  languageInfoWith,
  languageInfos,
  languageLimits,
  resolveLanguage,
  runLimitsSchema,
  strictestLimits,
  type LanguageDefinition,
  type RunLimits,
} from './languages.js';

const base = {
  id: 'python',
  name: 'Python 3',
  version: '3.11.2',
  fileName: 'main.py',
  image: 'base',
  compile: null,
  testProgram: 'test.py',
};

describe('language definitions: the run command', () => {
  it('accepts a shell command and the runner built-in `@python <file>`', () => {
    for (const run of ['python3 -u main.py', '@python main.py', '@python lib/start.py']) {
      expect(languageDefinitionSchema.safeParse({ ...base, run }).success).toBe(true);
    }
  });

  it('refuses any other built-in, or `@python` without a plain relative file', () => {
    for (const run of [
      '@ruby main.rb',
      '@python',
      '@python /etc/passwd',
      '@python a b',
      '@python ../x',
      '@',
    ]) {
      expect({ run, ok: languageDefinitionSchema.safeParse({ ...base, run }).success }).toEqual({
        run,
        ok: false,
      });
    }
  });
});

describe('limits of a run', () => {
  const python: LanguageDefinition = { ...base, run: '@python main.py' };
  const java: LanguageDefinition = {
    ...base,
    id: 'java',
    compile: 'javac Main.java',
    run: 'java Main',
    limits: { memoryMb: 512, pids: 128, wallMs: 8000, cpuMs: 20_000 },
  };

  it("takes a language's own limits over the deployment's, and the longer ones in submit mode", () => {
    expect(languageLimits(python, DEFAULT_RUN_LIMITS, 'run')).toEqual(DEFAULT_RUN_LIMITS);
    expect(languageLimits(java, DEFAULT_RUN_LIMITS, 'run')).toMatchObject({
      memoryMb: 512,
      pids: 128,
      wallMs: 8000,
      cpuMs: 20_000,
      compileWallMs: DEFAULT_RUN_LIMITS.compileWallMs,
    });
    // submit: max(language, submit default) for wall clock and CPU time
    expect(languageLimits(python, DEFAULT_RUN_LIMITS, 'submit')).toMatchObject({
      wallMs: 15_000,
      cpuMs: 12_000,
    });
    expect(languageLimits(java, DEFAULT_RUN_LIMITS, 'submit')).toMatchObject({
      wallMs: 15_000,
      cpuMs: 20_000,
    });
  });

  it('reports compile limits only for a compiled language', () => {
    const info = languageInfoWith({ ...DEFAULT_RUN_LIMITS, cpuMs: 3000 });
    expect(info(python).limits).toMatchObject({
      cpuMs: 3000,
      compileCpuMs: null,
      compileWallMs: null,
    });
    expect(info(java).limits).toMatchObject({
      cpuMs: 20_000,
      compileCpuMs: 10_000,
      compileWallMs: 15_000,
      submitWallMs: 15_000,
      submitCpuMs: 20_000,
      memoryMb: 512,
    });
  });

  it('takes each limit at its lowest over several workers, the defaults over none', () => {
    const a = { ...DEFAULT_RUN_LIMITS, wallMs: 3000, memoryMb: 512 };
    const b = { ...DEFAULT_RUN_LIMITS, wallMs: 8000, memoryMb: 128, cpus: 0.5 };
    expect(strictestLimits([a, b])).toEqual({
      ...DEFAULT_RUN_LIMITS,
      wallMs: 3000,
      memoryMb: 128,
      cpus: 0.5,
    });
    expect(strictestLimits([])).toEqual(DEFAULT_RUN_LIMITS);
  });

  it('refuses published limits that are incomplete or out of range', () => {
    expect(runLimitsSchema.safeParse(DEFAULT_RUN_LIMITS).success).toBe(true);
    const partial: Partial<RunLimits> = { ...DEFAULT_RUN_LIMITS };
    delete partial.wallMs;
    expect(runLimitsSchema.safeParse(partial).success).toBe(false);
    expect(runLimitsSchema.safeParse({ ...DEFAULT_RUN_LIMITS, memoryMb: 1 }).success).toBe(false);
    expect(runLimitsSchema.safeParse({ ...DEFAULT_RUN_LIMITS, extra: 1 }).success).toBe(false);
  });
});

describe('versions', () => {
  const def = (id: string, version: string, versionOf?: string): LanguageDefinition => ({
    ...base,
    id,
    version,
    run: 'python3 main.py',
    ...(versionOf ? { versionOf } : {}),
  });
  const all = new Map(
    [def('python', '3.13.5'), def('python-3.11', '3.11.2', 'python'), def('c', '14.2.0')].map(
      (l) => [l.id, l],
    ),
  );

  it('picks the default without a version, or with its version or a prefix of it', () => {
    for (const v of [undefined, '3.13.5', '3.13', '3']) {
      expect(resolveLanguage(all, 'python', v)?.id).toBe('python');
    }
  });

  it('picks another version by its version or a prefix up to a dot', () => {
    for (const v of ['3.11.2', '3.11'])
      expect(resolveLanguage(all, 'python', v)?.id).toBe('python-3.11');
  });

  it('knows no other versions, no partial numbers, and no version as a language', () => {
    for (const v of ['2.7', '3.1', '3.11.', '3.13.5.1'])
      expect(resolveLanguage(all, 'python', v)).toBeNull();
    expect(resolveLanguage(all, 'python-3.11')).toBeNull();
    expect(resolveLanguage(all, 'ruby')).toBeNull();
  });

  it('lists a language once, with its versions, default first', () => {
    const infos = languageInfos([...all.values()], DEFAULT_RUN_LIMITS);
    expect(infos.map((l) => [l.id, l.versions])).toEqual([
      ['python', ['3.13.5', '3.11.2']],
      ['c', undefined],
    ]);
  });
});
