import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { SUPPORTED_CALLS, SUPPORTED_OPERATORS, UNSUPPORTED } from '../lib/documentdb.js';
import { REPO_ROOT } from '../lib/sandbox-images.js';

/** The service's TypeScript files that talk to MongoDB (they import mongoose), tests excluded. */
function databaseFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')) {
        if (/from 'mongoose'/.test(readFileSync(p, 'utf8'))) out.push(p);
      }
    }
  };
  walk(join(REPO_ROOT, 'server', 'src'));
  walk(join(REPO_ROOT, 'worker', 'src'));
  return out;
}

describe('the service on DocumentDB', () => {
  const files = databaseFiles();

  it('finds the code that talks to the database', () => {
    const names = files.map((f) => relative(REPO_ROOT, f));
    expect(names).toEqual(
      expect.arrayContaining([
        'server/src/repositories/run.repository.ts',
        'worker/src/repositories/run.repository.ts',
      ]),
    );
  });

  it('uses only operators DocumentDB supports', () => {
    const used = new Map<string, string>();
    for (const f of files) {
      for (const m of readFileSync(f, 'utf8').matchAll(/['"]?(\$[a-zA-Z]+)['"]?\s*:/g)) {
        used.set(m[1], relative(REPO_ROOT, f));
      }
    }
    expect(used.size).toBeGreaterThan(0);
    const unknown = [...used].filter(([op]) => !SUPPORTED_OPERATORS.has(op));
    expect(unknown).toEqual([]);
    for (const op of UNSUPPORTED.operators) expect(SUPPORTED_OPERATORS.has(op)).toBe(false);
  });

  it('makes only calls that behave the same on DocumentDB (no collation, change streams, hints)', () => {
    const calls = new Map<string, string>();
    for (const f of files) {
      const src = readFileSync(f, 'utf8');
      // Calls on a model or a collection: `this.runs.find(`, `.collection.createIndex(`, chained `.exec()`.
      for (const m of src.matchAll(/\.(?:runs|collection)\s*\.\s*([a-zA-Z]+)\s*\(/g)) {
        calls.set(m[1], relative(REPO_ROOT, f));
      }
      for (const bad of UNSUPPORTED.calls) {
        if (new RegExp(`\\.${bad}\\s*\\(|\\b${bad}\\s*:`).test(src))
          calls.set(bad, relative(REPO_ROOT, f));
      }
    }
    expect(calls.size).toBeGreaterThan(0);
    const unknown = [...calls].filter(([c]) => !SUPPORTED_CALLS.has(c));
    expect(unknown).toEqual([]);
  });
});
