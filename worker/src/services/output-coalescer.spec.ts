import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { OutputCoalescer, type OutputPart } from './output-coalescer.js';

describe('OutputCoalescer', () => {
  let flushed: OutputPart[][];
  let limitHits: number;
  const make = (limitBytes = 1000, maxChunk = 8) =>
    new OutputCoalescer(
      { limitBytes, maxChunk, flushMs: 20 },
      (parts) => flushed.push(parts),
      () => limitHits++,
    );

  beforeEach(() => {
    jest.useFakeTimers();
    flushed = [];
    limitHits = 0;
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('sends a first complete line at once, then merges what follows within flushMs', () => {
    const c = make();
    c.push('stdout', Buffer.from('a\n'));
    expect(flushed).toEqual([[{ stream: 'stdout', data: 'a\n' }]]);
    c.push('stdout', Buffer.from('b\n'));
    c.push('stdout', Buffer.from('c\n'));
    expect(flushed).toHaveLength(1);
    jest.advanceTimersByTime(20);
    expect(flushed).toEqual([
      [{ stream: 'stdout', data: 'a\n' }],
      [{ stream: 'stdout', data: 'b\nc\n' }],
    ]);
    // After a quiet spell, the next line goes at once again.
    jest.advanceTimersByTime(100);
    c.push('stderr', Buffer.from('d\n'));
    expect(flushed).toHaveLength(3);
  });

  it('gives a partial line a moment to be completed (print writes text and newline apart)', () => {
    const c = make();
    c.push('stdout', Buffer.from('part 1'));
    expect(flushed).toEqual([]);
    c.push('stdout', Buffer.from('\n'));
    jest.advanceTimersByTime(3);
    expect(flushed).toEqual([[{ stream: 'stdout', data: 'part 1\n' }]]);
    // A prompt without a newline still goes out promptly.
    jest.advanceTimersByTime(100);
    c.push('stdout', Buffer.from('name? '));
    jest.advanceTimersByTime(3);
    expect(flushed).toHaveLength(2);
  });

  it('sends a first line as soon as its end arrives, without waiting the moment out', () => {
    const c = make();
    c.push('stdout', Buffer.from('hi'));
    expect(flushed).toEqual([]);
    c.push('stdout', Buffer.from('\n'));
    expect(flushed).toEqual([[{ stream: 'stdout', data: 'hi\n' }]]);
    // Within the merge window a complete line still waits for the window.
    c.push('stdout', Buffer.from('more'));
    c.push('stdout', Buffer.from('\n'));
    expect(flushed).toHaveLength(1);
    jest.advanceTimersByTime(20);
    expect(flushed).toEqual([
      [{ stream: 'stdout', data: 'hi\n' }],
      [{ stream: 'stdout', data: 'more\n' }],
    ]);
  });

  it('keeps the order of interleaved streams', () => {
    const c = make();
    c.push('stdout', Buffer.from('1'));
    c.push('stderr', Buffer.from('2'));
    c.push('stdout', Buffer.from('3'));
    c.end();
    expect(flushed.flat()).toEqual([
      { stream: 'stdout', data: '1' },
      { stream: 'stderr', data: '2' },
      { stream: 'stdout', data: '3' },
    ]);
  });

  it('never emits a chunk larger than maxChunk and flushes at once when full', () => {
    const c = make(1000, 8);
    c.push('stdout', Buffer.from('x'.repeat(20)));
    expect(flushed.flat().map((p) => p.data.length)).toEqual([8, 8]);
    c.end();
    expect(
      flushed
        .flat()
        .map((p) => p.data)
        .join(''),
    ).toBe('x'.repeat(20));
  });

  it('does not split a UTF-8 character across writes', () => {
    const c = make();
    const euro = Buffer.from('€');
    c.push('stdout', euro.subarray(0, 1));
    c.push('stdout', euro.subarray(1));
    c.end();
    expect(
      flushed
        .flat()
        .map((p) => p.data)
        .join(''),
    ).toBe('€');
  });

  it('turns invalid UTF-8 into replacement characters instead of failing', () => {
    const c = make();
    c.push('stdout', Buffer.from([0x66, 0xff, 0xfe, 0x67]));
    c.end();
    expect(
      flushed
        .flat()
        .map((p) => p.data)
        .join(''),
    ).toBe('f\uFFFD\uFFFDg');
  });

  it('drops bytes past the limit, marks truncation and signals once', () => {
    const c = make(10);
    c.push('stdout', Buffer.from('0123456'));
    c.push('stderr', Buffer.from('789abc'));
    c.push('stdout', Buffer.from('more'));
    c.end();
    expect(
      flushed
        .flat()
        .map((p) => p.data)
        .join(''),
    ).toBe('0123456789');
    expect(c.truncated).toBe(true);
    expect(limitHits).toBe(1);
  });

  it('drops bytes that arrive after end() (they would follow run:finished)', () => {
    const c = make();
    c.push('stdout', Buffer.from('in time\n'));
    c.end();
    c.push('stdout', Buffer.from('late\n'));
    jest.advanceTimersByTime(100);
    expect(
      flushed
        .flat()
        .map((p) => p.data)
        .join(''),
    ).toBe('in time\n');
  });

  it('does not count compile output against the program output limit', () => {
    const c = make(4);
    c.push('compile', Buffer.from('compiler says a lot'));
    c.push('stdout', Buffer.from('ok'));
    c.end();
    expect(c.truncated).toBe(false);
    expect(limitHits).toBe(0);
  });
});
