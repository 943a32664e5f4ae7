import { describe, expect, it } from '@jest/globals';
import {
  RUNNER_END,
  RunnerStdoutParser,
  encodeRunnerInput,
  encodeRunnerTest,
  encodeRunnerTestsInput,
} from './runner-protocol.js';

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

describe('runner tests mode', () => {
  const testFrame = (status: string, code: number, out: string, err: string) =>
    Buffer.from(
      `\x1eCODEROOM-TEST ${status} ${code} 12 10 ${Buffer.byteLength(out)} ${Buffer.byteLength(err)}\n${out}${err}`,
    );

  it('frames the tests mode magic, each test and the end', () => {
    expect(encodeRunnerTestsInput(null, '@python main.py', []).toString()).toBe(
      'CODEROOM1-TESTS\n\n@python main.py\n0\n',
    );
    expect(
      encodeRunnerTest({ wallMs: 1000, cpuMs: 500.7, outputBytes: 64, stdin: 'é\n' }).toString(),
    ).toBe('TEST 1000 500 64 3\né\n');
    expect(RUNNER_END.toString()).toBe('END\n');
  });

  it('parses test frames after the compile report, across any chunk borders', () => {
    const all = Buffer.concat([
      header(0, 2),
      Buffer.from('ok'),
      testFrame('exit', 0, 'out\n', 'err'),
      testFrame('tle', 137, '', ''),
      testFrame('ole', 0, 'é', ''),
    ]);
    for (let cut = 1; cut < all.length; cut++) {
      const p = new RunnerStdoutParser({ limitBytes: 100 });
      const events = [...p.push(all.subarray(0, cut)), ...p.push(all.subarray(cut))];
      const frames = events.flatMap((e) => (e.type === 'test-result' ? [e.frame] : []));
      expect(p.error).toBeNull();
      expect(
        frames.map((f) => [f.status, f.exitCode, f.stdout.toString(), f.stderr.toString()]),
      ).toEqual([
        ['exit', 0, 'out\n', 'err'],
        ['tle', 137, '', ''],
        ['ole', 0, 'é', ''],
      ]);
      expect(frames[0]).toMatchObject({ timeMs: 12, cpuMs: 10 });
    }
  });

  it('believes nothing after a malformed or oversized frame, and says so without the data', () => {
    for (const bad of [
      Buffer.from('secret output\n'),
      testFrame('win', 0, '', ''),
      testFrame('exit', 0, 'x'.repeat(101), ''),
      Buffer.from(`\x1eCODEROOM-TEST exit 0 1 1 1 ${'9'.repeat(200)}`),
    ]) {
      const p = new RunnerStdoutParser({ limitBytes: 100 });
      const events = p.push(Buffer.concat([header(0, 0), bad, testFrame('exit', 0, 'a', '')]));
      expect(events.map((e) => e.type)).toEqual(['compiled']);
      expect(p.error).toMatch(/^test frame/);
      expect(p.error).not.toContain('secret');
    }
  });

  it('leaves run mode as it was: the program output is never parsed for frames', () => {
    const p = new RunnerStdoutParser();
    const events = p.push(Buffer.concat([header(0, 0), testFrame('exit', 0, 'a', '')]));
    expect(events.map((e) => e.type)).toEqual(['compiled', 'program-output']);
  });
});
