import type {
  RunTestEvent,
  SubmitSpec,
  SubmitTest,
  TestVerdict,
  Verdict,
} from '@coderoom/contracts';
import { check } from './checkers.js';
import type { TestFrame } from './runner-protocol.js';

/** `actual` of a visible test is cut here (the contract's 64 KiB). */
export const ACTUAL_MAX_BYTES = 64 * 1024;

/** A submission's limits per test (SubmitSpec's, else the worker's submit-mode limits). */
export interface TestLimits {
  wallMs: number;
  cpuMs: number;
  /** stdout + stderr of one test. */
  outputBytes: number;
  /** stdout + stderr of all tests together. */
  totalOutputBytes: number;
}

/** The next test to hand to the runner. */
export interface TestOrder {
  test: SubmitTest;
  wallMs: number;
  cpuMs: number;
  outputBytes: number;
}

/**
 * One submission's tests: which runs next, and each test's verdict from the runner's frame.
 *
 * Order: the visible tests first, then the hidden ones (each group by index). The runner gets a
 * test only after the previous one ended and every process of it was killed, so while a visible
 * test runs (whose output the student sees) no hidden input is in the sandbox at all.
 *
 * What leaves this class for a hidden test is its index, verdict, time and points, never its
 * input, expected output or the program's output (see `event`).
 */
export class Submission {
  private readonly order: SubmitTest[];
  private next = 0;
  private inFlight: SubmitTest | null = null;
  private outputLeft: number;
  private readonly results = new Map<number, RunTestEvent>();

  constructor(
    private readonly runId: string,
    private readonly spec: SubmitSpec,
    private readonly limits: TestLimits,
  ) {
    const byIndex = [...spec.tests].sort((a, b) => a.index - b.index);
    this.order = [...byIndex.filter((t) => !t.hidden), ...byIndex.filter((t) => t.hidden)];
    this.outputLeft = limits.totalOutputBytes;
  }

  get maxScore(): number {
    return this.spec.tests.reduce((n, t) => n + t.points, 0);
  }

  /** Every test has its verdict. */
  get complete(): boolean {
    return this.results.size === this.spec.tests.length;
  }

  /** The test the runner has now, if any. */
  get current(): SubmitTest | null {
    return this.inFlight;
  }

  /** The test to send next, or null when all were sent (then the runner gets END). */
  take(): TestOrder | null {
    if (this.inFlight) throw new Error(`run ${this.runId}: a test is still running`);
    const test = this.order[this.next];
    if (!test) return null;
    this.next++;
    this.inFlight = test;
    return {
      test,
      wallMs: this.limits.wallMs,
      cpuMs: this.limits.cpuMs,
      outputBytes: Math.min(this.limits.outputBytes, this.outputLeft),
    };
  }

  /** The runner's frame of the test in flight: its verdict (the event to publish). */
  finished(frame: TestFrame): RunTestEvent {
    const test = this.inFlight;
    if (!test) throw new Error(`run ${this.runId}: a test result without a test`);
    this.inFlight = null;
    this.outputLeft = Math.max(0, this.outputLeft - frame.stdout.length - frame.stderr.length);
    const actual = frame.stdout.toString('utf8');
    const verdict = testVerdict(frame, () =>
      check(this.spec.checker, actual, test.expected, this.spec.tolerance),
    );
    return this.record(test, verdict, frame.timeMs, actual);
  }

  /**
   * The test in flight did not report: the worker's own clock stopped it (TLE), or the sandbox
   * ran out of memory under it (MLE).
   */
  abandoned(verdict: 'TLE' | 'MLE', timeMs: number): RunTestEvent | null {
    const test = this.inFlight;
    if (!test) return null;
    this.inFlight = null;
    return this.record(test, verdict, timeMs, '');
  }

  /** The verdicts so far, by index. */
  tests(): RunTestEvent[] {
    return [...this.results.values()].sort((a, b) => a.index - b.index);
  }

  /**
   * The submission's verdict from its tests: AC when every test passed, else the first failing
   * test's (by index); null when some tests have none (the run ended early: the caller decides).
   */
  verdict(): { verdict: Verdict; score: number; maxScore: number; first: RunTestEvent | null } {
    const tests = this.tests();
    const score = tests.reduce((n, t) => n + (t.points ?? 0), 0);
    const first = tests.find((t) => t.verdict !== 'AC') ?? null;
    return { verdict: first ? first.verdict : 'AC', score, maxScore: this.maxScore, first };
  }

  private record(
    test: SubmitTest,
    verdict: TestVerdict,
    timeMs: number,
    actual: string,
  ): RunTestEvent {
    const event: RunTestEvent = {
      runId: this.runId,
      index: test.index,
      verdict,
      timeMs,
      points: verdict === 'AC' ? test.points : 0,
      maxPoints: test.points,
      hidden: test.hidden,
      ...(test.hidden
        ? {}
        : {
            stdin: test.stdin,
            expected: test.expected,
            actual: cutUtf8(actual, ACTUAL_MAX_BYTES),
          }),
    };
    this.results.set(test.index, event);
    return event;
  }
}

/** A test's verdict from how it ended; `passes` runs the checker only for a clean exit. */
export function testVerdict(frame: TestFrame, passes: () => boolean): TestVerdict {
  switch (frame.status) {
    case 'mle':
      return 'MLE';
    case 'tle':
    case 'cpu':
      return 'TLE';
    case 'ole':
      return 'OLE';
    case 'exit':
      if (frame.exitCode === 128 + 24) return 'TLE'; // SIGXCPU: the kernel's CPU-time backstop
      if (frame.exitCode !== 0) return 'RE';
      return passes() ? 'AC' : 'WA';
    default: {
      const never: never = frame.status;
      throw new Error(`unknown test status ${String(never)}`);
    }
  }
}

/** At most `max` bytes of `s` in UTF-8, never splitting a character. */
export function cutUtf8(s: string, max: number): string {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= max) return s;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // back to a character's first byte
  return bytes.subarray(0, end).toString('utf8');
}
