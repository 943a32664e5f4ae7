import { describe, expect, it } from '@jest/globals';
import type { OutputChunk } from '@coderoom/contracts';
import { OutputSequencer } from './sequencer.js';

const chunk = (seq: number, data = `c${seq}`, stream: OutputChunk['stream'] = 'stdout') => ({
  runId: 'r',
  seq,
  stream,
  data,
});
const seqs = (cs: OutputChunk[]) => cs.map((c) => c.seq);

describe('OutputSequencer', () => {
  it('delivers chunks in seq order and drops duplicates', () => {
    const s = new OutputSequencer();
    expect(s.push(chunk(1))).toEqual({ outcome: 'delivered', delivered: [chunk(1)] });
    expect(s.push(chunk(2)).outcome).toBe('delivered');
    expect(s.push(chunk(1))).toEqual({ outcome: 'duplicate', delivered: [] });
    expect(s.push(chunk(2)).outcome).toBe('duplicate');
    expect(s.lastSeq).toBe(2);
    expect(s.hasGap).toBe(false);
  });

  it('holds a chunk after a gap and delivers it once the gap is filled', () => {
    const s = new OutputSequencer();
    s.push(chunk(1));
    expect(s.push(chunk(4))).toEqual({ outcome: 'held', delivered: [] });
    expect(s.push(chunk(4)).outcome).toBe('duplicate');
    expect(s.push(chunk(3)).outcome).toBe('held');
    expect(s.hasGap).toBe(true);
    expect(s.heldSeqs).toEqual([3, 4]);
    expect(s.lastSeq).toBe(1);
    const r = s.push(chunk(2));
    expect(r.outcome).toBe('delivered');
    expect(seqs(r.delivered)).toEqual([2, 3, 4]);
    expect(s.lastSeq).toBe(4);
    expect(s.hasGap).toBe(false);
  });

  it('merges a backlog in any order with what is held, exactly once', () => {
    const s = new OutputSequencer();
    s.push(chunk(1));
    s.push(chunk(5));
    const out = s.pushAll([chunk(4), chunk(2), chunk(3), chunk(5), chunk(1)]);
    expect(seqs(out)).toEqual([2, 3, 4, 5]);
    expect(s.lastSeq).toBe(5);
  });

  it('starts after afterSeq when watching from the middle', () => {
    const s = new OutputSequencer(10);
    expect(s.push(chunk(10)).outcome).toBe('duplicate');
    expect(s.push(chunk(11)).outcome).toBe('delivered');
    expect(s.push(chunk(13)).outcome).toBe('held');
  });

  it('rejects what is not a chunk', () => {
    const s = new OutputSequencer();
    for (const bad of [
      { ...chunk(1), seq: 0 },
      { ...chunk(1), seq: 1.5 },
      { ...chunk(1), seq: '1' },
      { ...chunk(1), data: 7 },
      null,
    ]) {
      expect(s.push(bad as unknown as OutputChunk).outcome).toBe('invalid');
    }
    expect(s.lastSeq).toBe(0);
  });

  it('skips an unrecoverable gap, reporting the missing ranges', () => {
    const s = new OutputSequencer();
    s.push(chunk(1));
    s.push(chunk(3));
    s.push(chunk(7));
    s.push(chunk(8));
    const r = s.skipGap();
    expect(seqs(r.delivered)).toEqual([3, 7, 8]);
    expect(r.missing).toEqual([
      [2, 2],
      [4, 6],
    ]);
    expect(s.lastSeq).toBe(8);
    expect(s.hasGap).toBe(false);
    expect(s.push(chunk(9)).outcome).toBe('delivered');
  });
});
