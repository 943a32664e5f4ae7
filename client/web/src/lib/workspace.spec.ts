import { describe, expect, it } from '@jest/globals';
import { MAX_FILES, pathProblem, SavedPrograms, starterFiles } from './workspace.js';

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(k: string) {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.items.set(k, v);
  }
}

describe('workspace', () => {
  it('starts a language with its main file and starter, for each of the ten languages', () => {
    for (const [id, file] of [
      ['python', 'main.py'],
      ['javascript', 'main.js'],
      ['typescript', 'main.ts'],
      ['c', 'main.c'],
      ['cpp', 'main.cpp'],
      ['java', 'Main.java'],
      ['go', 'main.go'],
      ['rust', 'main.rs'],
      ['ruby', 'main.rb'],
      ['bash', 'main.sh'],
    ]) {
      const [main] = starterFiles(id, file);
      expect(main.path).toBe(file);
      expect(main.content).toMatch(/name/);
    }
    expect(starterFiles('cobol', 'main.cob')).toEqual([{ path: 'main.cob', content: '' }]);
  });

  it('accepts the paths run:start accepts and says why it refuses others', () => {
    const files = starterFiles('python', 'main.py');
    expect(pathProblem('lib/util.py', files)).toBeNull();
    expect(pathProblem('main.py', files)).toMatch(/exists/);
    expect(pathProblem('../x.py', files)).toMatch(/letters/);
    expect(pathProblem('.hidden', files)).toMatch(/letters/);
    expect(pathProblem('a/b/c/d/e/f/g.py', files)).toMatch(/too long/);
    expect(pathProblem('', files)).toMatch(/Type/);
    const many = Array.from({ length: MAX_FILES }, (_, i) => ({ path: `f${i}`, content: '' }));
    expect(pathProblem('x.py', many)).toMatch(/At most/);
  });

  it('keeps programs per language and ignores a stored one that no longer fits', () => {
    const storage = new MemoryStorage();
    const saved = new SavedPrograms(storage);
    const files = [
      { path: 'main.py', content: 'print(2)' },
      { path: 'util.py', content: '' },
    ];
    saved.save('python', files);
    expect(saved.load('python', 'main.py')).toEqual(files);
    // The language's main file changed name: start afresh.
    expect(saved.load('python', 'app.py')).toEqual(starterFiles('python', 'app.py'));
    storage.setItem('coderoom.program.c', '{not json');
    expect(saved.load('c', 'main.c')).toEqual(starterFiles('c', 'main.c'));
    expect(new SavedPrograms(null).load('go', 'main.go')).toEqual(starterFiles('go', 'main.go'));
  });
});
