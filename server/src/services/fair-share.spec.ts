import { describe, expect, it } from '@jest/globals';
import { MAX_PRIORITY, runPriority } from './fair-share.js';

describe('runPriority', () => {
  it("puts a user's n-th active run at priority n", () => {
    expect([1, 2, 3, 10].map((rank) => runPriority(rank, 0))).toEqual([1, 2, 3, 10]);
  });

  it('counts a session as one user: the larger of the two ranks wins', () => {
    expect(runPriority(1, 7)).toBe(7);
    expect(runPriority(4, 2)).toBe(4);
  });

  it("stays within BullMQ's priority range", () => {
    expect(runPriority(0, 0)).toBe(1);
    expect(runPriority(1, MAX_PRIORITY + 5)).toBe(MAX_PRIORITY);
  });
});
