/** Hello-world programs shown in the editor when a language is picked. */
const SAMPLES: Record<string, string> = {
  python: `print("Hello, world!")
`,
  javascript: `console.log('Hello, world!');
`,
  c: `#include <stdio.h>

int main(void) {
    printf("Hello, world!\\n");
    return 0;
}
`,
};

/** Language ids a deployment may use for the same language as one of the samples. */
const ALIASES: Record<string, string> = {
  py: 'python',
  python3: 'python',
  js: 'javascript',
  node: 'javascript',
  nodejs: 'javascript',
};

/** The sample for a language id (python, javascript, c and aliases), or '' for any other. */
export function sampleFor(languageId: string): string {
  const id = languageId.toLowerCase();
  return SAMPLES[ALIASES[id] ?? id] ?? '';
}

/**
 * The editor content after switching from `from` to `to`: the new language's sample if the
 * editor still holds the previous sample (or nothing), otherwise the user's code unchanged.
 */
export function sourceAfterLanguageChange(source: string, from: string, to: string): string {
  if (source.trim() === '' || source === sampleFor(from)) return sampleFor(to);
  return source;
}
