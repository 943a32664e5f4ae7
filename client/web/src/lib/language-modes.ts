import { StreamLanguage, type StreamParser } from '@codemirror/language';
import type { Extension } from '@codemirror/state';

/**
 * CodeMirror language support per language id, each loaded on demand: every `import()` below
 * becomes a chunk of its own, so the first screen carries none of them. Ruby and Bash come from
 * the legacy (CodeMirror 5) modes.
 */
const MODES: Record<string, () => Promise<Extension>> = {
  python: async () => (await import('@codemirror/lang-python')).python(),
  javascript: async () => (await import('@codemirror/lang-javascript')).javascript(),
  typescript: async () =>
    (await import('@codemirror/lang-javascript')).javascript({ typescript: true }),
  c: async () => (await import('@codemirror/lang-cpp')).cpp(),
  cpp: async () => (await import('@codemirror/lang-cpp')).cpp(),
  java: async () => (await import('@codemirror/lang-java')).java(),
  go: async () => (await import('@codemirror/lang-go')).go(),
  rust: async () => (await import('@codemirror/lang-rust')).rust(),
  ruby: async () => legacy((await import('@codemirror/legacy-modes/mode/ruby')).ruby),
  bash: async () => legacy((await import('@codemirror/legacy-modes/mode/shell')).shell),
};

/** `@codemirror/language` itself is in the first chunk already (the editor needs it). */
function legacy(mode: StreamParser<unknown>): Extension {
  return StreamLanguage.define(mode);
}

/** The language support of a language id; none (plain text) for one without a mode. */
export async function languageMode(languageId: string): Promise<Extension> {
  return (await MODES[languageId]?.()) ?? [];
}
