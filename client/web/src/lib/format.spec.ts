import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RUN_LIMITS, languageInfoWith, type LanguageDefinition } from '@coderoom/contracts';
import { limitsSummary, statusLabel } from './format.js';

const python: LanguageDefinition = {
  id: 'python',
  name: 'Python 3',
  version: '3.11.2',
  fileName: 'main.py',
  image: 'base',
  compile: null,
  run: '@python main.py',
  testProgram: 'test.py',
};
const c: LanguageDefinition = {
  ...python,
  id: 'c',
  compile: 'gcc main.c',
  run: './main',
  limits: { memoryMb: 512 },
};

describe('limitsSummary', () => {
  it('shows wall clock, CPU time, memory, output and, for a compiled language, the compile time', () => {
    const info = languageInfoWith({ ...DEFAULT_RUN_LIMITS, wallMs: 2500 });
    expect(limitsSummary(info(python))).toBe('2.5 s · 4 s CPU · 256 MiB · 64 KiB output');
    expect(limitsSummary(info(c))).toBe('2.5 s · 4 s CPU · 512 MiB · 64 KiB output · compile 15 s');
  });

  it('copes with a gateway that reports only the CPU time', () => {
    const old = { ...languageInfoWith(DEFAULT_RUN_LIMITS)(python) };
    old.limits = { cpuMs: 3000, compileCpuMs: null };
    expect(limitsSummary(old)).toBe('3 s CPU');
  });
});

describe('statusLabel', () => {
  it('says where a run is: queue position, compiling, running time', () => {
    expect(statusLabel('queued', 3)).toBe('queued (position 3)');
    expect(statusLabel('queued', null)).toBe('queued');
    expect(statusLabel('compiling', null)).toBe('compiling…');
    expect(statusLabel('running', null, 1234)).toBe('running 1.2 s');
    expect(statusLabel('running', null)).toBe('running');
    expect(statusLabel('idle', null)).toBe('ready');
  });
});
