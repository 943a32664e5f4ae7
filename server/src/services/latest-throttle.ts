/**
 * Passes on at most one value per key every `ms`: the first at once, then, at the end of the
 * window, the latest of those that came meanwhile (earlier ones are dropped: each value
 * replaces the one before, as a session's whole presence list does). A key is forgotten once
 * a window passes without a value.
 */
export class LatestThrottle<T> {
  private readonly held = new Map<string, { latest: T | undefined }>();

  constructor(
    private readonly ms: number,
    private readonly send: (key: string, value: T) => void,
  ) {}

  push(key: string, value: T): void {
    const held = this.held.get(key);
    if (held) {
      held.latest = value;
      return;
    }
    this.send(key, value);
    const entry: { latest: T | undefined } = { latest: undefined };
    this.held.set(key, entry);
    setTimeout(() => {
      this.held.delete(key);
      if (entry.latest !== undefined) this.push(key, entry.latest);
    }, this.ms).unref();
  }
}
