import { describe, expect, it } from '@jest/globals';
import { RunnerStdoutParser, encodeRunnerInput } from './runner-protocol.js';

const header = (code: number, len: number) => Buffer.from(`\x1eCODEROOM-COMPILE ${code} ${len}\n`);

describe('encodeRunnerInput', () => {
  it('frames commands and files with byte lengths', () => {
    const out = encodeRunnerInput('gcc main.c', './main', [{ path: 'main.c', content: 'é\n' }]);
    expect(out.toString()).toBe('CODEROOM1\ngcc main.c\n./main\n1\nmain.c\n3\né\n');
  });

  it('writes an empty line when there is no compile step', () => {
    expect(encodeRunnerInput(null, 'python3 main.py', []).toString()).toBe(
      'CODEROOM1\n\npython3 main.py\n0\n',
    );
  });

  it('refuses unsafe paths even if validation upstream was bypassed', () => {
    for (const path of ['/etc/passwd', 'a/../../x', 'a\nb']) {
      expect(() => encodeRunnerInput(null, 'x', [{ path, content: '' }])).toThrow(/unsafe path/);
    }
  });
});

describe('RunnerStdoutParser', () => {
  it('splits header, compile output and program output across arbitrary chunk borders', () => {
    const all = Buffer.concat([header(1, 5), Buffer.from('error'), Buffer.from('prog')]);
    for (let cut = 1; cut < all.length; cut++) {
      const p = new RunnerStdoutParser();
      const events = [...p.push(all.subarray(0, cut)), ...p.push(all.subarray(cut))];
      const compile = Buffer.concat(
        events.flatMap((e) => (e.type === 'compile-output' ? [e.data] : [])),
      ).toString();
      const program = Buffer.concat(
        events.flatMap((e) => (e.type === 'program-output' ? [e.data] : [])),
      ).toString();
      expect(compile).toBe('error');
      expect(program).toBe('prog');
      expect(events.filter((e) => e.type === 'compiled')).toEqual([
        { type: 'compiled', exitCode: 1 },
      ]);
      expect(p.error).toBeNull();
    }
  });

  it('reports a missing header and keeps the bytes as program output', () => {
    const p = new RunnerStdoutParser();
    const events = p.push(Buffer.from('hello\nworld'));
    expect(p.error).toMatch(/header/);
    const program = events.flatMap((e) => (e.type === 'program-output' ? [e.data] : []));
    expect(Buffer.concat(program).toString()).toBe('hello\nworld');
  });

  it('does not parse a header-looking line printed by the program', () => {
    const p = new RunnerStdoutParser();
    const events = p.push(Buffer.concat([header(0, 0), header(7, 0)]));
    expect(events.filter((e) => e.type === 'compiled')).toHaveLength(1);
    expect(events[1]).toEqual({ type: 'program-output', data: header(7, 0) });
  });
});
