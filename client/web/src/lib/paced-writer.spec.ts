import { describe, expect, it } from '@jest/globals';
import { PacedWriter } from './paced-writer.js';

function harness(budget: number) {
  const frames: (() => void)[] = [];
  const writes: { data: string; parsed: () => void }[] = [];
  const writer = new PacedWriter(
    (data, parsed) => writes.push({ data, parsed }),
    (fn) => frames.push(fn),
    budget,
  );
  const frame = () => frames.shift()?.();
  return { writer, writes, frames, frame };
}

describe('PacedWriter', () => {
  it('writes at most the budget per frame, in order, and waits for each piece to be parsed', () => {
    const { writer, writes, frames, frame } = harness(4);
    writer.push('abc');
    writer.push('defghij');
    expect(writes).toEqual([]);
    frame();
    expect(writes.map((w) => w.data)).toEqual(['abcd']);
    // Not parsed yet: no new frame is asked for.
    expect(frames).toHaveLength(0);
    writes[0].parsed();
    frame();
    writes[1].parsed();
    frame();
    expect(writes.map((w) => w.data)).toEqual(['abcd', 'efgh', 'ij']);
    writes[2].parsed();
    expect(frames).toHaveLength(0);
    expect(writer.pending).toBe(0);
  });

  it('drops what waits on clear, and ignores the parse callback of a piece from before', () => {
    const { writer, writes, frames, frame } = harness(2);
    writer.push('aaaa');
    frame();
    writer.clear();
    writes[0].parsed();
    expect(frames).toHaveLength(0);
    writer.push('b');
    frame();
    expect(writes.map((w) => w.data)).toEqual(['aa', 'b']);
  });
});
