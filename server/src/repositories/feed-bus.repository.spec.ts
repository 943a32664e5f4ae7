import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { redisKeys } from '@coderoom/contracts';
import { FeedBusRepository } from './feed-bus.repository.js';
import type { RedisRepository } from './redis.repository.js';

/** The feed connection as the repository uses it: (un)subscribe calls settled by the test. */
class FakeFeedSub extends EventEmitter {
  readonly calls: { op: 'ssubscribe' | 'sunsubscribe'; channel: string; settle: Settle }[] = [];
  ssubscribe(channel: string): Promise<unknown> {
    return this.call('ssubscribe', channel);
  }
  sunsubscribe(channel: string): Promise<unknown> {
    return this.call('sunsubscribe', channel);
  }
  private call(op: 'ssubscribe' | 'sunsubscribe', channel: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.calls.push({ op, channel, settle: { ok: () => resolve(1), fail: reject } });
    });
  }
  /** The calls so far as "op channel", and forgets them. */
  take(): string[] {
    return this.calls.splice(0).map((c) => `${c.op} ${c.channel}`);
  }
}
interface Settle {
  ok(): void;
  fail(err: Error): void;
}

function setup() {
  const feedSub = new FakeFeedSub();
  const bus = new FeedBusRepository({ feedSub } as unknown as RedisRepository);
  return { bus, feedSub };
}
/** A node subscribed to a run's channel (confirmed), whose feed connection was then lost. */
async function subscribedThenCut(runId: string) {
  const { bus, feedSub } = setup();
  const p = bus.listen(runId);
  feedSub.calls[0].settle.ok();
  await p;
  feedSub.take();
  feedSub.emit('close');
  return { bus, feedSub };
}
const ch = (runId: string) => redisKeys.feedChannel(runId);
const tick = () => new Promise((r) => setImmediate(r));

describe('FeedBusRepository', () => {
  it('subscribes once per channel while the connection lasts', async () => {
    const { bus, feedSub } = setup();
    const first = bus.listen('r1');
    const again = bus.listen('r1');
    expect(feedSub.take()).toEqual([`ssubscribe ${ch('r1')}`]);
    feedSub.emit('ready');
    await tick();
    expect(feedSub.calls).toHaveLength(0);
    expect(again).toBe(first);
  });

  it('after the connection was lost, a listen waits for a new confirmation of a known channel', async () => {
    // Redis went away: ioredis subscribes again on reconnect, unconfirmed.
    const { bus, feedSub } = await subscribedThenCut('r1');
    let confirmed = false;
    const after = bus.listen('r1').then(() => (confirmed = true));
    expect(feedSub.calls.map((c) => `${c.op} ${c.channel}`)).toEqual([`ssubscribe ${ch('r1')}`]);
    await tick();
    expect(confirmed).toBe(false); // not the old, resolved promise
    feedSub.calls[0].settle.ok();
    await after;
    expect(confirmed).toBe(true);
  });

  it('a channel forgotten while Redis was away is unsubscribed once it is back', async () => {
    const { bus, feedSub } = await subscribedThenCut('r1');
    bus.forget('r1');
    const [unsub] = feedSub.calls.splice(0);
    expect(`${unsub.op} ${unsub.channel}`).toBe(`sunsubscribe ${ch('r1')}`);
    unsub.settle.fail(new Error('Reached the max retries per request limit'));
    await tick();
    feedSub.emit('ready');
    const [retry] = feedSub.calls.splice(0);
    expect(`${retry.op} ${retry.channel}`).toBe(`sunsubscribe ${ch('r1')}`);
    retry.settle.ok();
    await tick();
    feedSub.emit('ready'); // done: nothing more to unsubscribe
    expect(feedSub.calls).toHaveLength(0);
  });

  it('a forgotten channel wanted again before Redis is back stays subscribed', async () => {
    const { bus, feedSub } = await subscribedThenCut('r1');
    bus.forget('r1');
    feedSub.calls.splice(0)[0].settle.fail(new Error('Connection is closed.'));
    await tick();
    void bus.listen('r1').catch(() => undefined);
    feedSub.take();
    feedSub.emit('ready');
    expect(feedSub.calls).toHaveLength(0);
  });

  it('a failed re-subscription is unsubscribed once Redis is back (ioredis may still hold it)', async () => {
    const { bus, feedSub } = await subscribedThenCut('r1');
    const again = bus.listen('r1');
    feedSub.calls.splice(0)[0].settle.fail(new Error('Connection is closed.'));
    await expect(again).rejects.toThrow('Connection is closed.');
    expect(bus.listening).toBe(0);
    feedSub.emit('ready');
    expect(feedSub.take()).toEqual([`sunsubscribe ${ch('r1')}`]);
  });
});
