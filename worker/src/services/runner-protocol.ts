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
): Buffer {
  for (const cmd of [compile ?? '', run]) {
    if (cmd.includes('\n')) throw new Error('runner commands must be a single line');
  }
  const parts: Buffer[] = [Buffer.from(`CODEROOM1\n${compile ?? ''}\n${run}\n${files.length}\n`)];
  for (const f of files) {
    if (f.path.includes('\n') || f.path.startsWith('/') || f.path.split('/').includes('..')) {
      throw new Error(`unsafe path ${JSON.stringify(f.path)}`);
    }
    const content = Buffer.from(f.content, 'utf8');
    parts.push(Buffer.from(`${f.path}\n${content.length}\n`), content);
  }
  return Buffer.concat(parts);
}

export type RunnerEvent =
  | { type: 'compiled'; exitCode: number }
  | { type: 'compile-output'; data: Buffer }
  | { type: 'program-output'; data: Buffer };

const HEADER = /^\x1eCODEROOM-COMPILE (\d+) (\d+)$/;
const MAX_HEADER = 64;

/**
 * Splits the container's stdout into the runner's compile report and the program's output.
 * The header is only ever parsed at the very start of stdout, before the program runs, so a
 * program cannot forge it.
 */
export class RunnerStdoutParser {
  private state: 'header' | 'compile' | 'program' = 'header';
  private header = Buffer.alloc(0);
  private compileLeft = 0;
  private compileExit = 0;

  /** Set when stdout did not start with a valid header (a broken image or runner). */
  error: string | null = null;

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
      } else {
        events.push({ type: 'program-output', data: rest });
        rest = Buffer.alloc(0);
      }
    }
    return events;
  }

  private endCompile(): RunnerEvent {
    this.state = 'program';
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
