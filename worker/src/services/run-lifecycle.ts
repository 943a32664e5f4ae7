import type { RunStatus } from '@coderoom/contracts';

const ALLOWED: Record<RunStatus, readonly RunStatus[]> = {
  queued: ['compiling', 'running', 'finished'],
  compiling: ['running', 'finished'],
  running: ['finished'],
  finished: [],
};

/** A run's status as an explicit state machine: an out-of-order transition is a bug and throws. */
export class RunLifecycle {
  private current: RunStatus = 'queued';

  constructor(private readonly runId: string) {}

  get status(): RunStatus {
    return this.current;
  }

  to<S extends RunStatus>(next: S): S {
    if (!ALLOWED[this.current].includes(next)) {
      throw new Error(`run ${this.runId}: transition ${this.current} -> ${next} is not allowed`);
    }
    this.current = next;
    return next;
  }
}
