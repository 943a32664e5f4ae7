import { describe, expect, it } from '@jest/globals';
import type { RunFeedEvent } from '@coderoom/contracts';
import { RunFeedService, type FeedSink } from './run-feed.service.js';

const out = (seq: number, runId = 'r'): RunFeedEvent => ({
  kind: 'run:output',
  event: { runId, seq, stream: 'stdout', data: `#${seq}` },
});
const finished: RunFeedEvent = {
  kind: 'run:finished',
  event: {
    runId: 'r',
    verdict: 'OK',
    exitCode: 0,
    signal: null,
    timeMs: 1,
    memoryKb: null,
    truncated: false,
  },
};

function recorder(id: string): FeedSink & { got: RunFeedEvent[] } {
  const got: RunFeedEvent[] = [];
  return { id, got, send: (e) => got.push(e) };
}
const seqs = (events: RunFeedEvent[]) =>
  events.flatMap((e) => (e.kind === 'run:output' ? [e.event.seq] : []));

describe('RunFeedService', () => {
  it('delivers a live subscriber every event once, in order', () => {
    const feed = new RunFeedService();
    const s = recorder('a');
    feed.subscribe('r', s, 0, false);
    [1, 2, 2, 3].forEach((n) => feed.dispatch(out(n)));
    feed.dispatch(out(1, 'other-run'));
    expect(seqs(s.got)).toEqual([1, 2, 3]);
  });

  it('holds events during a watch sync and skips those the backlog already had', () => {
    const feed = new RunFeedService();
    const s = recorder('a');
    feed.subscribe('r', s, 0, true);
    feed.dispatch(out(4)); // arrives while the backlog (1..5) is being read
    feed.dispatch(out(5));
    feed.dispatch(out(6));
    expect(s.got).toEqual([]);
    feed.completeSync('r', 'a', 5);
    feed.dispatch(out(7));
    expect(seqs(s.got)).toEqual([6, 7]);
  });

  it('forgets a run after its finished event and a sink when it disconnects', () => {
    const feed = new RunFeedService();
    const a = recorder('a');
    const b = recorder('b');
    feed.subscribe('r', a, 0, false);
    feed.subscribe('r', b, 0, false);
    feed.removeSink('b');
    expect(feed.watcherCount('r')).toBe(1);
    feed.dispatch(finished);
    expect(feed.watcherCount('r')).toBe(0);
    feed.dispatch(out(9));
    expect(a.got).toEqual([finished]);
    expect(b.got).toEqual([]);
  });
});
