import type { ChildProcess } from 'node:child_process';

export declare class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  readonly group: boolean;
  done: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  error: string | null;
  stopping: boolean;
  readonly exited: Promise<Proc>;
  readonly how: string;
  send(sig: NodeJS.Signals): boolean;
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number; onKill?: () => void }): Promise<Proc>;
}

export interface LaunchOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile?: string;
  truncate?: boolean;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  prefix?: string;
  group?: boolean;
}

export declare function launch(
  name: string,
  cmd: string,
  args: readonly string[],
  opts?: LaunchOptions,
): Proc;
export declare function sleep(ms: number): Promise<void>;
export declare function alive(pid: number): boolean;
export declare function groupExists(pgid: number): boolean;
export declare function stopGroup(pgid: number, graceMs: number): Promise<void>;
