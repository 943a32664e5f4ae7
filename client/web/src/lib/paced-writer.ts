/**
 * Feeds a terminal at most `budget` characters per animation frame, so a flood of output (or a
 * big backlog after a reconnect) is parsed and painted in small steps instead of one long task.
 * At 4 KiB per frame the maximum output of a run (64 KiB by default) is on screen within about
 * 16 frames. The next piece is written only once the terminal has parsed the previous one.
 */
export class PacedWriter {
  readonly #queue: string[] = [];
  #scheduled = false;
  #writing = false;
  #generation = 0;

  constructor(
    private readonly write: (data: string, parsed: () => void) => void,
    private readonly nextFrame: (fn: () => void) => void = (fn) => requestAnimationFrame(fn),
    private readonly budget = 4096,
  ) {}

  /** Characters waiting to be written. */
  get pending(): number {
    return this.#queue.reduce((n, s) => n + s.length, 0);
  }

  push(data: string): void {
    if (data === '') return;
    this.#queue.push(data);
    this.#schedule();
  }

  /** Drops what is waiting (the terminal is being reset). */
  clear(): void {
    this.#queue.length = 0;
    this.#generation++;
    this.#writing = false;
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing || this.#queue.length === 0) return;
    this.#scheduled = true;
    this.nextFrame(() => {
      this.#scheduled = false;
      this.#writeSome();
    });
  }

  #writeSome(): void {
    let piece = '';
    while (this.#queue.length > 0 && piece.length < this.budget) {
      const head = this.#queue[0];
      const room = this.budget - piece.length;
      if (head.length <= room) {
        piece += head;
        this.#queue.shift();
      } else {
        piece += head.slice(0, room);
        this.#queue[0] = head.slice(room);
      }
    }
    if (piece === '') return;
    this.#writing = true;
    const generation = this.#generation;
    this.write(piece, () => {
      if (generation !== this.#generation) return;
      this.#writing = false;
      this.#schedule();
    });
  }
}
