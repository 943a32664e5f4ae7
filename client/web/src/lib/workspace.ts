import type { SourceFile } from '@coderoom/sdk';
import { starterFor } from './samples';

/** The files of one language's program; the first is the language's main file. */
export type Files = SourceFile[];

/** As in API.md's `run:start` (`files`: at most 32; paths of safe segments, depth <= 6). */
export const MAX_FILES = 32;
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** A new program: the language's main file (`fileName` from languages:list) with its starter. */
export function starterFiles(languageId: string, fileName: string): Files {
  return [{ path: fileName, content: starterFor(languageId) }];
}

/** Why `path` cannot be added next to `files`, or null if it can. */
export function pathProblem(path: string, files: readonly SourceFile[]): string | null {
  if (path === '') return 'Type a file name.';
  if (files.length >= MAX_FILES) return `At most ${MAX_FILES} files.`;
  const segments = path.split('/');
  if (path.length > 128 || segments.length > 6) return 'That path is too long.';
  if (!segments.every((s) => SEGMENT.test(s))) {
    return 'Use letters, digits, "_", "-" and "." (not first), with "/" between folders.';
  }
  if (files.some((f) => f.path === path)) return 'A file with that name exists.';
  return null;
}

/**
 * Programs kept in the browser (localStorage), per language, so a reload or a language switch
 * loses nothing. Storage failures (private mode, quota) only mean nothing is kept.
 */
export class SavedPrograms {
  constructor(
    private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | null,
    private readonly prefix = 'coderoom.program.',
  ) {}

  load(languageId: string, fileName: string): Files {
    try {
      const raw = this.storage?.getItem(this.prefix + languageId);
      const files = raw ? (JSON.parse(raw) as unknown) : null;
      if (isFiles(files) && files[0].path === fileName) return files;
    } catch {
      // unreadable: start afresh
    }
    return starterFiles(languageId, fileName);
  }

  save(languageId: string, files: readonly SourceFile[]): void {
    try {
      this.storage?.setItem(this.prefix + languageId, JSON.stringify(files));
    } catch {
      // full or forbidden: keep working without it
    }
  }
}

function isFiles(v: unknown): v is Files {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.length <= MAX_FILES &&
    v.every(
      (f) =>
        f !== null &&
        typeof f === 'object' &&
        typeof (f as SourceFile).path === 'string' &&
        typeof (f as SourceFile).content === 'string',
    )
  );
}
