import type { SourceFile } from '@coderoom/contracts';

/**
 * The sandbox runner's stdin protocol (sandbox/runner/coderoom-runner, sandbox/README.md):
 *   CODEROOM1\n <compile command or empty>\n <run command>\n <N>\n
 *   N x (<path>\n <byte length>\n <bytes>)  then the program's own stdin.
 * Commands come from language definitions (our data), never from the client.
 */
export function encodeRunnerInput(
  compile: string | null,
  run: string,
  files: SourceFile[],
  magic: 'CODEROOM1' | typeof TESTS_MAGIC = 'CODEROOM1',
): Buffer {
  for (const cmd of [compile ?? '', run]) {
    if (cmd.includes('\n')) throw new Error('runner commands must be a single line');
  }
  const parts: Buffer[] = [Buffer.from(`${magic}\n${compile ?? ''}\n${run}\n${files.length}\n`)];
  for (const f of files) {
    if (f.path.includes('\n') || f.path.startsWith('/') || f.path.split('/').includes('..')) {
      throw new Error(`unsafe path ${JSON.stringify(f.path)}`);
    }
    const content = Buffer.from(f.content, 'utf8');
    parts.push(Buffer.from(`${f.path}\n${content.length}\n`), content);
  }
  return Buffer.concat(parts);
}

/**
 * Tests mode (a graded submission, sandbox/README.md): the same files and compile step, then one
 * test at a time (`encodeRunnerTest`, each after the previous test's frame), then `END`.
 */
export const TESTS_MAGIC = 'CODEROOM1-TESTS';

export function encodeRunnerTestsInput(
  compile: string | null,
  run: string,
  files: SourceFile[],
): Buffer {
  return encodeRunnerInput(compile, run, files, TESTS_MAGIC);
}

/** One test for the runner in tests mode: its limits and its stdin. */
export function encodeRunnerTest(t: {
  wallMs: number;
  cpuMs: number;
  outputBytes: number;
  stdin: string;
}): Buffer {
  const stdin = Buffer.from(t.stdin, 'utf8');
  const n = (x: number) => Math.max(0, Math.floor(x));
  return Buffer.concat([
    Buffer.from(`TEST ${n(t.wallMs)} ${n(t.cpuMs)} ${n(t.outputBytes)} ${stdin.length}\n`),
    stdin,
  ]);
}

/** Tells the runner in tests mode that there are no more tests (it exits 0). */
export const RUNNER_END = Buffer.from('END\n');

/** How one test ended, as the runner saw it (tests mode). */
export type TestStatus = 'exit' | 'tle' | 'cpu' | 'mle' | 'ole';

export interface TestFrame {
  status: TestStatus;
  /** The program's exit code (128 + n for signal n). */
  exitCode: number;
  timeMs: number;
  cpuMs: number;
  stdout: Buffer;
  stderr: Buffer;
}

export type RunnerEvent =
  | { type: 'compiled'; exitCode: number }
  | { type: 'compile-output'; data: Buffer }
  | { type: 'program-output'; data: Buffer }
  | { type: 'test-result'; frame: TestFrame };

const HEADER = /^\x1eCODEROOM-COMPILE (\d+) (\d+)$/;
const MAX_HEADER = 64;
const TEST_HEADER =
  /^\x1eCODEROOM-TEST (exit|tle|cpu|mle|ole) (\d{1,3}) (\d{1,12}) (\d{1,12}) (\d{1,12}) (\d{1,12})$/;
const MAX_TEST_HEADER = 128;

/**
 * Splits the container's stdout into the runner's compile report and the program's output.
 * The header is only ever parsed at the very start of stdout, before the program runs, so a
 * program cannot forge it.
 */
export class RunnerStdoutParser {
  private state: 'header' | 'compile' | 'program' | 'tests' | 'broken' = 'header';
  private header = Buffer.alloc(0);
  private compileLeft = 0;
  private compileExit = 0;
  /** Tests mode: the frame being read (its header, then its stdout and stderr). */
  private frame: { head: TestFrame; stdoutLen: number; body: Buffer[]; left: number } | null = null;
  private frameHeader = Buffer.alloc(0);

  /**
   * Set when stdout did not start with a valid header (a broken image or runner), or in tests
   * mode when a test frame was malformed. Fixed texts only: never any of the output.
   */
  error: string | null = null;

  /**
   * @param limitBytes tests mode: the most a test frame may carry (stdout + stderr); a
   *   runner's output is parsed as test frames after the compile report only when given
   */
  constructor(private readonly tests?: { limitBytes: number }) {}

  push(data: Buffer): RunnerEvent[] {
    const events: RunnerEvent[] = [];
    let rest = data;
    while (rest.length > 0) {
      if (this.state === 'header') {
        const nl = rest.indexOf(0x0a);
        const take = nl === -1 ? rest : rest.subarray(0, nl);
        this.header = Buffer.concat([this.header, take]);
        if (this.header.length > MAX_HEADER) {
          this.fail(events, 'runner header too long', Buffer.alloc(0));
          rest = rest.subarray(take.length);
          continue;
        }
        if (nl === -1) return events;
        rest = rest.subarray(nl + 1);
        const m = HEADER.exec(this.header.toString('latin1'));
        if (!m) {
          this.fail(events, 'runner header missing or malformed', Buffer.from('\n'));
          continue;
        }
        this.compileExit = Number(m[1]);
        this.compileLeft = Number(m[2]);
        this.state = 'compile';
        if (this.compileLeft === 0) events.push(this.endCompile());
      } else if (this.state === 'compile') {
        const part = rest.subarray(0, this.compileLeft);
        rest = rest.subarray(part.length);
        this.compileLeft -= part.length;
        events.push({ type: 'compile-output', data: part });
        if (this.compileLeft === 0) events.push(this.endCompile());
      } else if (this.state === 'tests') {
        rest = this.pushTests(rest, events);
      } else if (this.state === 'broken') {
        rest = Buffer.alloc(0); // tests mode after a bad frame: nothing more is believed
      } else {
        events.push({ type: 'program-output', data: rest });
        rest = Buffer.alloc(0);
      }
    }
    return events;
  }

  /** Tests mode: frames of `\x1eCODEROOM-TEST <status> <exit> <ms> <cpu ms> <out> <err>\n`. */
  private pushTests(rest: Buffer, events: RunnerEvent[]): Buffer {
    if (!this.frame) {
      const nl = rest.indexOf(0x0a);
      const take = nl === -1 ? rest : rest.subarray(0, nl);
      this.frameHeader = Buffer.concat([this.frameHeader, take]);
      if (this.frameHeader.length > MAX_TEST_HEADER) return this.breakTests('test frame too long');
      if (nl === -1) return Buffer.alloc(0);
      const m = TEST_HEADER.exec(this.frameHeader.toString('latin1'));
      this.frameHeader = Buffer.alloc(0);
      if (!m) return this.breakTests('test frame missing or malformed');
      const [stdoutLen, stderrLen] = [Number(m[5]), Number(m[6])];
      if (stdoutLen + stderrLen > this.tests!.limitBytes) {
        return this.breakTests('test frame larger than its output limit');
      }
      const head: TestFrame = {
        status: m[1] as TestStatus,
        exitCode: Number(m[2]),
        timeMs: Number(m[3]),
        cpuMs: Number(m[4]),
        stdout: Buffer.alloc(0),
        stderr: Buffer.alloc(0),
      };
      this.frame = { head, stdoutLen, body: [], left: stdoutLen + stderrLen };
      rest = rest.subarray(nl + 1);
    }
    const f = this.frame;
    const part = rest.subarray(0, f.left);
    f.body.push(part);
    f.left -= part.length;
    if (f.left === 0) {
      const body = Buffer.concat(f.body);
      f.head.stdout = body.subarray(0, f.stdoutLen);
      f.head.stderr = body.subarray(f.stdoutLen);
      this.frame = null;
      events.push({ type: 'test-result', frame: f.head });
    }
    return rest.subarray(part.length);
  }

  private breakTests(message: string): Buffer {
    this.error = message;
    this.state = 'broken';
    this.frame = null;
    return Buffer.alloc(0);
  }

  private endCompile(): RunnerEvent {
    this.state = this.tests ? 'tests' : 'program';
    return { type: 'compiled', exitCode: this.compileExit };
  }

  /** Whatever came instead of a header is shown as output rather than lost. */
  private fail(events: RunnerEvent[], message: string, separator: Buffer): void {
    this.error = message;
    this.state = 'program';
    const data = Buffer.concat([this.header, separator.subarray(0, 1)]);
    if (data.length > 0) events.push({ type: 'program-output', data });
  }
}
