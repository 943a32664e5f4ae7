import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { LatestThrottle } from './latest-throttle.js';

describe('LatestThrottle', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('sends the first value at once and only the latest of a window at its end, per key', () => {
    const sent: string[] = [];
    const t = new LatestThrottle<number>(500, (key, v) => sent.push(`${key}=${v}`));
    t.push('a', 1);
    t.push('b', 1);
    t.push('a', 2);
    t.push('a', 3);
    expect(sent).toEqual(['a=1', 'b=1']);
    jest.advanceTimersByTime(499);
    expect(sent).toEqual(['a=1', 'b=1']);
    jest.advanceTimersByTime(1);
    expect(sent).toEqual(['a=1', 'b=1', 'a=3']);
    // A new window started with a=3: a value in it waits for its end.
    t.push('a', 4);
    expect(sent).toEqual(['a=1', 'b=1', 'a=3']);
    jest.advanceTimersByTime(500);
    expect(sent).toEqual(['a=1', 'b=1', 'a=3', 'a=4']);
    // A quiet window ends the key's throttling: the next value goes at once.
    jest.advanceTimersByTime(500);
    t.push('a', 5);
    expect(sent).toEqual(['a=1', 'b=1', 'a=3', 'a=4', 'a=5']);
  });
});
