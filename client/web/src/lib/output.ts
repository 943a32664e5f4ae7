import type { OutputChunk, OutputStream } from '@coderoom/contracts';

/** A run of consecutive output of one stream, merged for display. */
export interface OutputSegment {
  /** Stable key for keyed rendering; a segment keeps its id while text is appended to it. */
  readonly id: number;
  readonly stream: OutputStream;
  readonly text: string;
}

export type AddResult = 'duplicate' | 'appended' | 'gap';

/**
 * The output of one run, in seq order. `seq` starts at 1 and rises by exactly 1 per chunk
 * (API.md), so a chunk whose seq is already held is a duplicate and is ignored, and a chunk
 * that skips seqs reveals a gap the caller should fill with `run:watch`.
 *
 * Segments are immutable snapshots: appending to the last segment replaces it by a new object
 * with the same id, so views can render them by reference.
 */
export class OutputLog {
  #chunks: OutputChunk[] = [];
  #held = new Set<number>();
  #contiguous = 0;
  #segments: OutputSegment[] = [];
  #nextId = 1;

  /** The highest seq n such that every seq 1..n is held: the `afterSeq` to watch from. */
  get lastSeq(): number {
    return this.#contiguous;
  }

  /** True while some chunk is held beyond a missing seq. */
  get hasGap(): boolean {
    return this.#held.size > this.#contiguous;
  }

  get size(): number {
    return this.#chunks.length;
  }

  get segments(): readonly OutputSegment[] {
    return this.#segments;
  }

  /** Full text of the output, all streams, in seq order. */
  get text(): string {
    return this.#segments.map((s) => s.text).join('');
  }

  has(seq: number): boolean {
    return this.#held.has(seq);
  }

  add(chunk: OutputChunk): AddResult {
    const { seq } = chunk;
    if (
      !Number.isInteger(seq) ||
      seq < 1 ||
      this.#held.has(seq) ||
      typeof chunk.data !== 'string'
    ) {
      return 'duplicate';
    }
    this.#held.add(seq);
    const last = this.#chunks[this.#chunks.length - 1];
    if (!last || last.seq < seq) {
      this.#chunks.push(chunk);
      this.#appendSegment(chunk);
    } else {
      // Out of order (a late chunk filling a gap): insert in place and rebuild the segments.
      const at = this.#chunks.findIndex((c) => c.seq > seq);
      this.#chunks.splice(at, 0, chunk);
      this.#rebuildSegments();
    }
    while (this.#held.has(this.#contiguous + 1)) this.#contiguous++;
    return this.hasGap ? 'gap' : 'appended';
  }

  /** Adds several chunks; returns how many were new. */
  addAll(chunks: readonly OutputChunk[]): number {
    let added = 0;
    for (const c of [...chunks].sort((a, b) => a.seq - b.seq)) {
      if (this.add(c) !== 'duplicate') added++;
    }
    return added;
  }

  #appendSegment(chunk: OutputChunk): void {
    const segs = this.#segments;
    const tail = segs[segs.length - 1];
    if (tail && tail.stream === chunk.stream) {
      segs[segs.length - 1] = { id: tail.id, stream: tail.stream, text: tail.text + chunk.data };
    } else {
      segs.push({ id: this.#nextId++, stream: chunk.stream, text: chunk.data });
    }
    this.#segments = [...segs];
  }

  #rebuildSegments(): void {
    this.#segments = [];
    for (const c of this.#chunks) this.#appendSegment(c);
  }
}
