import { gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

/** The first screen may load at most this much JavaScript, gzipped (issue 14). */
export const FIRST_SCREEN_BUDGET = 300 * 1024;

interface ChunkInfo {
  fileName: string;
  gzip: number;
  initial: boolean;
}

/**
 * Prints every JS chunk's gzipped size after a build, marks the ones the first screen loads
 * (the entry and what it imports statically; language modes are dynamic imports and load
 * later), prints their total against the budget and writes it all to `dist/bundle-sizes.json`.
 * The browser tests check the budget independently, from what index.html really loads.
 */
export function bundleReport(): Plugin {
  return {
    name: 'coderoom-bundle-report',
    apply: 'build',
    generateBundle(_options, bundle) {
      const chunks = new Map<string, { code: string; imports: string[]; isEntry: boolean }>();
      for (const item of Object.values(bundle)) {
        if (item.type === 'chunk') {
          chunks.set(item.fileName, {
            code: item.code,
            imports: item.imports,
            isEntry: item.isEntry,
          });
        }
      }
      const initial = new Set<string>();
      const visit = (name: string) => {
        if (initial.has(name)) return;
        initial.add(name);
        for (const dep of chunks.get(name)?.imports ?? []) visit(dep);
      };
      for (const [name, c] of chunks) if (c.isEntry) visit(name);

      const rows: ChunkInfo[] = [...chunks].map(([fileName, c]) => ({
        fileName,
        gzip: gzipSync(c.code).length,
        initial: initial.has(fileName),
      }));
      rows.sort((a, b) => Number(b.initial) - Number(a.initial) || b.gzip - a.gzip);
      const total = rows.filter((r) => r.initial).reduce((n, r) => n + r.gzip, 0);
      const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
      const lines = rows.map(
        (r) =>
          `  ${r.initial ? 'first screen' : 'lazy        '}  ${kib(r.gzip).padStart(10)}  ${r.fileName}`,
      );
      const verdict = total <= FIRST_SCREEN_BUDGET ? 'within' : 'OVER';
      this.info(
        `JavaScript, gzipped:\n${lines.join('\n')}\n  first screen total ${kib(total)}: ${verdict} the budget of ${kib(FIRST_SCREEN_BUDGET)}`,
      );
      this.emitFile({
        type: 'asset',
        fileName: 'bundle-sizes.json',
        source: `${JSON.stringify({ budget: FIRST_SCREEN_BUDGET, firstScreen: total, chunks: rows }, null, 2)}\n`,
      });
    },
  };
}
