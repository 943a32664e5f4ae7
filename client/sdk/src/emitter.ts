/** A listener map: event name to listener signature. */
export type ListenerMap<M> = { [K in keyof M]: (...args: never[]) => void };

/**
 * A minimal typed event emitter. `on` returns the function that removes the listener.
 * A listener that throws does not disturb the emitter or the other listeners: its error is
 * rethrown asynchronously (an uncaught exception, as with an EventEmitter listener).
 */
export class Emitter<M extends ListenerMap<M>> {
  readonly #listeners = new Map<keyof M, Set<M[keyof M]>>();

  on<E extends keyof M>(event: E, listener: M[E]): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    // The same function twice is one subscription; wrap it to subscribe it twice.
    set.add(listener);
    return () => {
      this.#listeners.get(event)?.delete(listener);
    };
  }

  /** Like `on`, for one call only. */
  once<E extends keyof M>(event: E, listener: M[E]): () => void {
    const off = this.on(event, ((...args: Parameters<M[E]>) => {
      off();
      (listener as (...a: Parameters<M[E]>) => void)(...args);
    }) as M[E]);
    return off;
  }

  emit<E extends keyof M>(event: E, ...args: Parameters<M[E]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: Parameters<M[E]>) => void)(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  listenerCount(event: keyof M): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  removeAll(): void {
    this.#listeners.clear();
  }
}
