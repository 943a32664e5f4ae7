import { describe, expect, it } from '@jest/globals';
import { languageDefinitionSchema } from './languages.js';

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
