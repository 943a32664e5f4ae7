import type { OutputChunk } from '@coderoom/contracts';

export type PushOutcome =
  /** Already held or delivered (seq <= lastSeq, or waiting in the hold): dropped. */
  | 'duplicate'
  /** Not an output chunk (seq not a positive integer, data not a string): dropped. */
  | 'invalid'
  /** The next seq: delivered, with any held chunks it made contiguous. */
  | 'delivered'
  /** Beyond a gap (seq > lastSeq + 1): held until the gap is filled. */
  | 'held';

export interface PushResult {
  outcome: PushOutcome;
  /** What may now be handed to the application, in seq order, contiguous from the old lastSeq. */
  delivered: OutputChunk[];
}

/**
 * Puts a run's output chunks in order. `seq` starts at 1 and rises by exactly 1 per chunk of a
 * run (API.md), so: a chunk at or below `lastSeq` is a duplicate; the chunk `lastSeq + 1` is
 * delivered; a chunk further on reveals a gap, is held back, and is delivered once the chunks
 * before it have arrived (from a `run:watch` backlog). What comes out is exactly-once and in
 * seq order. Pure logic, no I/O.
 */
export class OutputSequencer {
  #lastSeq: number;
  readonly #held = new Map<number, OutputChunk>();

  /** `afterSeq`: the seq already held elsewhere (watching from the middle), 0 from the start. */
  constructor(afterSeq = 0) {
    this.#lastSeq = afterSeq;
  }

  /** The highest seq n such that every chunk up to n has been delivered (or skipped). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** True while some chunk waits beyond a missing seq. */
  get hasGap(): boolean {
    return this.#held.size > 0;
  }

  /** Seqs of the chunks held back, ascending. */
  get heldSeqs(): number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  push(chunk: OutputChunk): PushResult {
    const seq = chunk?.seq;
    if (!Number.isSafeInteger(seq) || seq < 1 || typeof chunk.data !== 'string') {
      return { outcome: 'invalid', delivered: [] };
    }
    if (seq <= this.#lastSeq || this.#held.has(seq)) return { outcome: 'duplicate', delivered: [] };
    if (seq > this.#lastSeq + 1) {
      this.#held.set(seq, chunk);
      return { outcome: 'held', delivered: [] };
    }
    const delivered = [chunk];
    this.#lastSeq = seq;
    this.#drain(delivered);
    return { outcome: 'delivered', delivered };
  }

  /** Pushes several chunks (in any order); returns everything that became deliverable. */
  pushAll(chunks: readonly OutputChunk[]): OutputChunk[] {
    const out: OutputChunk[] = [];
    for (const c of [...chunks].sort((a, b) => a.seq - b.seq)) out.push(...this.push(c).delivered);
    return out;
  }

  /**
   * Gives up on the missing seqs: delivers every held chunk in order, leaving holes. Only for
   * output that cannot be recovered any more (the server no longer has it).
   */
  skipGap(): { delivered: OutputChunk[]; missing: Array<[from: number, to: number]> } {
    const delivered: OutputChunk[] = [];
    const missing: Array<[number, number]> = [];
    for (const seq of this.heldSeqs) {
      const chunk = this.#held.get(seq);
      if (!chunk || seq <= this.#lastSeq) continue;
      if (seq > this.#lastSeq + 1) missing.push([this.#lastSeq + 1, seq - 1]);
      this.#held.delete(seq);
      delivered.push(chunk);
      this.#lastSeq = seq;
    }
    return { delivered, missing };
  }

  #drain(into: OutputChunk[]): void {
    for (;;) {
      const next = this.#held.get(this.#lastSeq + 1);
      if (!next) return;
      this.#held.delete(next.seq);
      into.push(next);
      this.#lastSeq = next.seq;
    }
  }
}
