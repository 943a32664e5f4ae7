import type { DockerRepository, SandboxIo } from '../repositories/docker.repository.js';
import type { SandboxJanitorService } from './sandbox-janitor.service.js';

/**
 * "A place to run one program", whatever the execution tier (ARCHITECTURE.md): a fresh container
 * (this file's `containerSandbox`) or a run in a reused slot container (slot-pool.service.ts).
 * SandboxRun steps through a run with this and does not know which tier it has.
 */
export interface RunSandbox {
  /** The container that runs the program (for logs). */
  readonly id: string;
  /** The runner's standard streams (sandbox/README.md, the runner protocol). */
  readonly io: SandboxIo;
  /** The program's exit code (128 + n for signal n), once it exited and its output is out. */
  readonly exited: Promise<number>;
  /** Starts a created sandbox (a no-op for one that is started already). */
  start(): Promise<void>;
  /** Kills every process of the run (SIGKILL); repeated calls are harmless. */
  kill(): void;
  /** CPU time of the run so far in ms (all its processes and threads), or null if unknown. */
  cpuUsageMs(): number | null;
  /** Peak memory of the run in KiB, or null if unknown (after the exit). */
  peakMemoryKb(): number | null;
  /** Whether the kernel's OOM killer struck in the run (after the exit). */
  oomKilled(): Promise<boolean>;
  /**
   * After the run, whatever happened: the sandbox is removed, or (slot tier) given back for the
   * next run when `clean` (the run ended in a known way: no engine failure, no kill failure).
   */
  release(clean: boolean): void;
}

/** Today's tier: one fresh container per run, removed by the janitor after it. */
export function containerSandbox(
  id: string,
  io: SandboxIo,
  exited: Promise<number>,
  started: boolean,
  docker: DockerRepository,
  janitor: SandboxJanitorService,
): RunSandbox {
  return {
    id,
    io,
    exited,
    start: () => (started ? Promise.resolve() : docker.start(id)),
    kill: () => void docker.kill(id),
    cpuUsageMs: () => docker.cpuUsageMs(id),
    peakMemoryKb: () => docker.peakMemoryKb(id),
    oomKilled: () => docker.oomKilled(id),
    release: () => janitor.dispose(id),
  };
}
