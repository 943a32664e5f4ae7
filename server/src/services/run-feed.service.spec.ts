import { describe, expect, it } from '@jest/globals';
import type { RunFeedEvent } from '@coderoom/contracts';
import type { FeedBusRepository } from '../repositories/feed-bus.repository.js';
import { RunFeedService, type FeedSink } from './run-feed.service.js';

/** The channels this node would listen to, as the bus is asked for them. */
function fakeBus(): FeedBusRepository & { listening: Set<string> } {
  const listening = new Set<string>();
  return {
    listening,
    listen: (runId: string) => {
      listening.add(runId);
      return Promise.resolve();
    },
    forget: (runId: string) => void listening.delete(runId),
  } as unknown as FeedBusRepository & { listening: Set<string> };
}

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
    const feed = new RunFeedService(fakeBus());
    const s = recorder('a');
    void feed.subscribe('r', s, 0, false);
    [1, 2, 2, 3].forEach((n) => feed.dispatch(out(n)));
    feed.dispatch(out(1, 'other-run'));
    expect(seqs(s.got)).toEqual([1, 2, 3]);
  });

  it('holds events during a watch sync and skips those the backlog already had', () => {
    const feed = new RunFeedService(fakeBus());
    const s = recorder('a');
    void feed.subscribe('r', s, 0, true);
    feed.dispatch(out(4)); // arrives while the backlog (1..5) is being read
    feed.dispatch(out(5));
    feed.dispatch(out(6));
    expect(s.got).toEqual([]);
    feed.completeSync('r', 'a', 5);
    feed.dispatch(out(7));
    expect(seqs(s.got)).toEqual([6, 7]);
  });

  it('forgets a run after its finished event and a sink when it disconnects', () => {
    const feed = new RunFeedService(fakeBus());
    const a = recorder('a');
    const b = recorder('b');
    void feed.subscribe('r', a, 0, false);
    void feed.subscribe('r', b, 0, false);
    feed.removeSink('b');
    expect(feed.watcherCount('r')).toBe(1);
    feed.dispatch(finished);
    expect(feed.watcherCount('r')).toBe(0);
    feed.dispatch(out(9));
    expect(a.got).toEqual([finished]);
    expect(b.got).toEqual([]);
  });

  it("listens to a run's feed while this node has watchers of it, and only then", async () => {
    const bus = fakeBus();
    const feed = new RunFeedService(bus);
    const a = recorder('a');
    const b = recorder('b');
    await feed.subscribe('r', a, 0, false);
    await feed.subscribe('r', b, 0, true);
    await feed.subscribe('s', a, 0, false);
    expect([...bus.listening].sort()).toEqual(['r', 's']);
    feed.unsubscribe('r', 'a');
    expect([...bus.listening].sort()).toEqual(['r', 's']);
    feed.removeSink('b');
    expect([...bus.listening]).toEqual(['s']);
    feed.dispatch({ ...finished, event: { ...finished.event, runId: 's' } });
    expect([...bus.listening]).toEqual([]);
  });
});
