import type { RunFeedEvent } from '@coderoom/contracts';

/**
 * Holds the events of runs this client does not know yet. The server sends `run:status queued`
 * to the owner before it acknowledges `run:start`, and the acknowledgement may race with the
 * first output; so while a `run:start` or `run:watch` awaits its answer, events for unknown
 * run ids are kept here, and handed to the run when the answer names it. When no request is
 * pending, events for unknown runs are dropped (a run that was unwatched, say).
 */
export class EarlyEvents {
  #holds = 0;
  #events: RunFeedEvent[] = [];
  #overflowed = new Set<string>();

  constructor(readonly max = 10_000) {}

  /** True while at least one request that may reveal a new run id is pending. */
  get holding(): boolean {
    return this.#holds > 0;
  }

  get size(): number {
    return this.#events.length;
  }

  /**
   * Starts holding; call the returned function when the request has its answer (it is safe to
   * call more than once). When the last hold is released, whatever is left is dropped.
   */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      if (this.#holds === 0) {
        this.#events = [];
        this.#overflowed.clear();
      }
    };
  }

  /** Keeps an event for an unknown run if something is pending; returns whether it was kept. */
  offer(e: RunFeedEvent): boolean {
    if (this.#holds === 0) return false;
    if (this.#events.length >= this.max) {
      // Status and output can be recovered with a run:watch; remember that this run needs one.
      this.#overflowed.add(e.event.runId);
      return false;
    }
    this.#events.push(e);
    return true;
  }

  /**
   * Removes and returns the held events of one run, in arrival order. `overflowed` is true if
   * some were dropped for lack of room (the run should then resync with `run:watch`).
   */
  take(runId: string): { events: RunFeedEvent[]; overflowed: boolean } {
    const events = this.#events.filter((e) => e.event.runId === runId);
    if (events.length > 0) this.#events = this.#events.filter((e) => e.event.runId !== runId);
    const overflowed = this.#overflowed.delete(runId);
    return { events, overflowed };
  }

  clear(): void {
    this.#events = [];
    this.#overflowed.clear();
  }
}
