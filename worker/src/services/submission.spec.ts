import { describe, expect, it } from '@jest/globals';
import type { SubmitSpec } from '@coderoom/contracts';
import type { TestFrame } from './runner-protocol.js';
import { ACTUAL_MAX_BYTES, Submission, cutUtf8 } from './submission.js';
import { judgeSubmission, type RunOutcome } from './verdict.js';

const spec: SubmitSpec = {
  problemId: 'p',
  checker: 'tokens',
  tests: [
    { index: 2, stdin: 'secret-2', expected: 'S2', points: 30, hidden: true },
    { index: 0, stdin: '1 2', expected: '3', points: 10, hidden: false },
    { index: 1, stdin: 'secret-1', expected: 'S1', points: 20, hidden: true },
    { index: 3, stdin: '5 5', expected: '10', points: 40, hidden: false },
  ],
};
const limits = { wallMs: 1000, cpuMs: 1000, outputBytes: 100, totalOutputBytes: 150 };
const frame = (stdout: string, over: Partial<TestFrame> = {}): TestFrame => ({
  status: 'exit',
  exitCode: 0,
  timeMs: 7,
  cpuMs: 5,
  stdout: Buffer.from(stdout),
  stderr: Buffer.alloc(0),
  ...over,
});
const clean: RunOutcome = {
  killedFor: null,
  compileExit: 0,
  oomKilled: false,
  exitCode: 0,
  protocolError: false,
};

/** Runs every test with the answer `answer(test)` gives. */
function grade(answer: (stdin: string) => TestFrame): Submission {
  const s = new Submission('r', spec, limits);
  for (let o = s.take(); o; o = s.take()) s.finished(answer(o.test.stdin));
  return s;
}

describe('Submission', () => {
  it('runs the visible tests first, then the hidden ones, each group by index', () => {
    const s = new Submission('r', spec, limits);
    const order: number[] = [];
    for (let o = s.take(); o; o = s.take()) {
      order.push(o.test.index);
      s.finished(frame(''));
    }
    expect(order).toEqual([0, 3, 1, 2]);
  });

  it('never hands out a test while another runs', () => {
    const s = new Submission('r', spec, limits);
    s.take();
    expect(() => s.take()).toThrow('a test is still running');
  });

  it('gives hidden tests no input, expected output or actual output', () => {
    const s = grade((stdin) => frame(stdin)); // a program that echoes its input
    const [t0, t1, t2, t3] = s.tests();
    expect(t0).toEqual({
      runId: 'r',
      index: 0,
      verdict: 'WA',
      timeMs: 7,
      points: 0,
      maxPoints: 10,
      hidden: false,
      stdin: '1 2',
      expected: '3',
      actual: '1 2',
    });
    for (const t of [t1, t2]) {
      expect(Object.keys(t).sort()).toEqual(
        ['hidden', 'index', 'maxPoints', 'points', 'runId', 'timeMs', 'verdict'].sort(),
      );
      expect(JSON.stringify(t)).not.toContain('secret');
    }
    expect(t3.hidden).toBe(false);
  });

  it('scores AC tests and names the first failing test by index', () => {
    const answers: Record<string, TestFrame> = {
      '1 2': frame('3'),
      '5 5': frame('', { status: 'tle' }),
      'secret-1': frame('', { exitCode: 139 }),
      'secret-2': frame('S2'),
    };
    const s = grade((stdin) => answers[stdin]);
    expect(s.tests().map((t) => t.verdict)).toEqual(['AC', 'RE', 'AC', 'TLE']);
    expect(s.verdict()).toMatchObject({ verdict: 'RE', score: 40, maxScore: 100 });
    expect(judgeSubmission(clean, s)).toMatchObject({ verdict: 'RE', score: 40, maxScore: 100 });
  });

  it('maps the runner statuses to verdicts (SIGXCPU is TLE)', () => {
    const answers: Record<string, TestFrame> = {
      '1 2': frame('3', { status: 'mle' }),
      '5 5': frame('10', { status: 'ole' }),
      'secret-1': frame('', { status: 'cpu' }),
      'secret-2': frame('', { exitCode: 128 + 24 }),
    };
    expect(
      grade((stdin) => answers[stdin])
        .tests()
        .map((t) => t.verdict),
    ).toEqual(['MLE', 'TLE', 'TLE', 'OLE']);
  });

  it('is AC with the full score when every test passes', () => {
    const answers: Record<string, string> = {
      '1 2': '3\n',
      '5 5': '10',
      'secret-1': 'S1',
      'secret-2': ' S2 ',
    };
    const s = grade((stdin) => frame(answers[stdin]));
    expect(judgeSubmission(clean, s)).toMatchObject({
      verdict: 'AC',
      score: 100,
      maxScore: 100,
      exitCode: null,
    });
  });

  it('shares the output budget between tests', () => {
    const s = new Submission('r', spec, limits);
    expect(s.take()?.outputBytes).toBe(100);
    s.finished(frame('x'.repeat(100)));
    expect(s.take()?.outputBytes).toBe(50);
    s.finished(frame('x'.repeat(50)));
    expect(s.take()?.outputBytes).toBe(0);
  });

  it('cuts the actual output of a visible test at 64 KiB, on a character boundary', () => {
    const big = 'é'.repeat(ACTUAL_MAX_BYTES); // 2 bytes each
    const s = new Submission('r', spec, {
      ...limits,
      outputBytes: 1 << 20,
      totalOutputBytes: 1 << 20,
    });
    s.take();
    const e = s.finished(frame(big));
    expect(Buffer.byteLength(e.actual!)).toBe(ACTUAL_MAX_BYTES);
    expect(cutUtf8('aé', 2)).toBe('a');
  });
});

describe('judgeSubmission', () => {
  const some = () => {
    const s = new Submission('r', spec, limits);
    s.take();
    s.finished(frame('3'));
    s.take(); // test 3 in flight
    return s;
  };

  it('is CE with no score when the program did not compile', () => {
    const s = new Submission('r', spec, limits);
    expect(judgeSubmission({ ...clean, compileExit: 1 }, s)).toMatchObject({
      verdict: 'CE',
      score: 0,
      maxScore: 100,
      tests: [],
    });
    expect(judgeSubmission({ ...clean, killedFor: 'COMPILE_TIMEOUT' }, s).verdict).toBe('CE');
  });

  it('is CANCELLED or SE whatever the tests said', () => {
    expect(judgeSubmission({ ...clean, killedFor: 'CANCELLED' }, some()).verdict).toBe('CANCELLED');
    expect(
      judgeSubmission(
        { ...clean, protocolError: true },
        grade(() => frame('')),
      ).verdict,
    ).toBe('SE');
    expect(judgeSubmission({ ...clean, exitUnknown: true }, some()).verdict).toBe('SE');
  });

  it('is SE when the sandbox ended before every test had a verdict, or did not end cleanly', () => {
    expect(judgeSubmission({ ...clean, exitCode: 137 }, some()).verdict).toBe('SE');
    expect(
      judgeSubmission(
        { ...clean, exitCode: 1 },
        grade(() => frame('3')),
      ).verdict,
    ).toBe('SE');
  });

  it('takes the verdict of a test the worker stopped (TLE) or the OOM killer ended (MLE)', () => {
    const s = some();
    s.abandoned('TLE', 3000);
    expect(judgeSubmission({ ...clean, killedFor: 'TLE', exitCode: 137 }, s)).toMatchObject({
      verdict: 'TLE',
      score: 10,
    });
    const m = some();
    m.abandoned('MLE', 10);
    expect(judgeSubmission({ ...clean, oomKilled: true, exitCode: 137 }, m).verdict).toBe('MLE');
  });
});
