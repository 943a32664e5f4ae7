import { Injectable } from '@nestjs/common';

/**
 * Lets background Docker work (removing used sandboxes, refilling the warm pool) wait while a
 * run is starting: from taking its sandbox to the first bytes it prints (or its exit). On two
 * cores a container create or remove (~50-100 ms of dockerd, containerd and runc CPU) that
 * overlaps a run's start delays that run's first output; a few tens of ms later it delays
 * nobody. The wait is bounded, so under sustained load (some run is always starting) the
 * background work still goes on, as before.
 */
@Injectable()
export class StartupGateService {
  private starting = 0;
  private readonly waiters: (() => void)[] = [];

  /** A run starts; call the returned function (once is enough) when it printed or ended. */
  begin(): () => void {
    this.starting++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.starting--;
      if (this.starting === 0) this.waiters.splice(0).forEach((w) => w());
    };
  }

  /** Resolves when no run is starting, or after maxWaitMs. */
  idle(maxWaitMs: number): Promise<void> {
    if (this.starting === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, maxWaitMs);
      const waiters = this.waiters;
      function done(): void {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i !== -1) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }
}
