/**
 * The smallest Svelte-compatible store (`subscribe(fn)` calls `fn` now and on every change),
 * framework-free so the logic classes built on it run under jest without a compiler.
 */
export class Store<T> {
  #value: T;
  readonly #listeners = new Set<(v: T) => void>();

  constructor(initial: T) {
    this.#value = initial;
  }

  get value(): T {
    return this.#value;
  }

  subscribe(fn: (v: T) => void): () => void {
    this.#listeners.add(fn);
    fn(this.#value);
    return () => this.#listeners.delete(fn);
  }

  protected set(next: T): void {
    this.#value = next;
    for (const fn of [...this.#listeners]) fn(next);
  }

  protected patch(patch: Partial<T>): void {
    this.set({ ...this.#value, ...patch });
  }
}
