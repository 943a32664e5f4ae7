import { describe, expect, it } from '@jest/globals';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('grants a burst, then refuses with the wait until the next token', () => {
    let now = 0;
    const b = new TokenBucket(10, 3, () => now);
    expect([b.take(), b.take(), b.take()]).toEqual([0, 0, 0]);
    expect(b.take()).toBe(100);
    now = 100;
    expect(b.take()).toBe(0);
    expect(b.take()).toBe(100);
  });

  it('never saves more than the burst', () => {
    let now = 0;
    const b = new TokenBucket(10, 2, () => now);
    now = 60_000;
    expect([b.take(), b.take(), b.take()]).toEqual([0, 0, 100]);
  });
});
