export type CpuStage = 'compile' | 'run';

/** Checks never come closer together than this (ms): a few reads of one cgroup file per run. */
const MIN_CHECK_MS = 10;

/**
 * A sandbox's CPU time (all its processes and threads together) against the budget of the stage
 * in progress. Instead of polling at a fixed rate it looks again when the budget could run out at
 * the earliest, i.e. with every CPU the sandbox may use busy all the time: a program that sleeps
 * or waits costs one read per budget's worth of wall time, and a run whose budget is beyond its
 * wall-clock limit none at all. `settle` makes the final account after the exit, so a stage that
 * overran between two checks is still caught.
 */
export class CpuBudget {
  private stage: { name: CpuStage; limitMs: number; baseMs: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private done = false;
  /** The stage that used up its budget, if one did. */
  exceeded: CpuStage | null = null;

  /**
   * @param read the sandbox's CPU time so far in ms, or null where it cannot be measured (then
   *   nothing is checked here and only the kernel's RLIMIT_CPU applies)
   * @param cpus how many CPUs the sandbox may use at once (its CPU quota)
   * @param onExceeded called once, when a stage's budget is found used up
   */
  constructor(
    private readonly read: () => number | null,
    private readonly cpus: number,
    private readonly onExceeded: (stage: CpuStage) => void,
  ) {}

  /** Starts a stage now: its budget counts from the sandbox's CPU time at this moment. */
  begin(name: CpuStage, limitMs: number): void {
    if (this.done || this.exceeded) return;
    this.clearTimer();
    const baseMs = this.read();
    this.stage = baseMs === null ? null : { name, limitMs, baseMs };
    if (this.stage) this.schedule(limitMs);
  }

  /** After the exit: the final account of the stage in progress (then nothing more is checked). */
  settle(): CpuStage | null {
    this.stop();
    const stage = this.stage;
    if (stage && !this.exceeded) {
      const now = this.read();
      if (now !== null && now - stage.baseMs >= stage.limitMs) this.exceeded = stage.name;
    }
    return this.exceeded;
  }

  /**
   * Ends the stage in progress now, with its final account, and checks nothing more until the
   * next `begin` (a stage whose end the worker learns from the runner, not from the exit).
   */
  end(): CpuStage | null {
    if (this.done) return this.exceeded;
    this.clearTimer();
    const stage = this.stage;
    this.stage = null;
    if (stage && !this.exceeded) {
      const now = this.read();
      if (now !== null && now - stage.baseMs >= stage.limitMs) this.exceeded = stage.name;
    }
    return this.exceeded;
  }

  stop(): void {
    this.done = true;
    this.clearTimer();
  }

  private schedule(remainingMs: number): void {
    const wait = Math.max(MIN_CHECK_MS, Math.ceil(remainingMs / this.cpus));
    this.timer = setTimeout(() => this.check(), wait);
  }

  private check(): void {
    this.timer = null;
    const stage = this.stage;
    const now = this.read();
    if (this.done || !stage || now === null) return;
    const used = now - stage.baseMs;
    if (used >= stage.limitMs) {
      this.exceeded = stage.name;
      this.onExceeded(stage.name);
      return;
    }
    this.schedule(stage.limitMs - used);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
