import { describe, expect, it } from '@jest/globals';
import type { RunFeedEvent } from '@coderoom/contracts';
import { EarlyEvents } from './early-events.js';

const status = (runId: string): RunFeedEvent => ({
  kind: 'run:status',
  event: { runId, status: 'queued', position: 1, at: '2024-01-01T00:00:00.000Z' },
});
const output = (runId: string, seq: number): RunFeedEvent => ({
  kind: 'run:output',
  event: { runId, seq, stream: 'stdout', data: `${seq}` },
});

describe('EarlyEvents', () => {
  it('drops events of unknown runs while nothing is pending', () => {
    const b = new EarlyEvents();
    expect(b.holding).toBe(false);
    expect(b.offer(status('a'))).toBe(false);
    expect(b.size).toBe(0);
  });

  it('keeps them while a request is pending and hands each run its own, in order', () => {
    const b = new EarlyEvents();
    const release = b.hold();
    b.offer(status('a'));
    b.offer(output('b', 1));
    b.offer(output('a', 1));
    b.offer(output('a', 2));
    expect(b.take('a')).toEqual({
      events: [status('a'), output('a', 1), output('a', 2)],
      overflowed: false,
    });
    expect(b.take('a').events).toEqual([]);
    expect(b.size).toBe(1);
    release();
    expect(b.size).toBe(0);
  });

  it('clears only when the last of several pending requests is answered', () => {
    const b = new EarlyEvents();
    const r1 = b.hold();
    const r2 = b.hold();
    b.offer(status('x'));
    r1();
    r1(); // releasing twice counts once
    expect(b.holding).toBe(true);
    expect(b.take('x').events).toHaveLength(1);
    b.offer(status('y'));
    r2();
    expect(b.holding).toBe(false);
    expect(b.size).toBe(0);
  });

  it('remembers which runs lost events to the size limit', () => {
    const b = new EarlyEvents(2);
    const release = b.hold();
    expect(b.offer(output('a', 1))).toBe(true);
    expect(b.offer(output('a', 2))).toBe(true);
    expect(b.offer(output('a', 3))).toBe(false);
    expect(b.take('a')).toEqual({ events: [output('a', 1), output('a', 2)], overflowed: true });
    expect(b.take('a').overflowed).toBe(false);
    release();
  });
});
