import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { redisKeys } from '@coderoom/contracts';
import type { GatewayConfig } from '../src/config/config.js';
import { FeedBusRepository } from '../src/repositories/feed-bus.repository.js';
import { RedisRepository } from '../src/repositories/redis.repository.js';
import { until } from './harness.js';

// The gateway's run feed connection lost and back, on a real Redis: the connection is killed
// (CLIENT KILL, as a Redis restart or a network cut does) and ioredis reconnects by itself.

let repo: RedisRepository;
let bus: FeedBusRepository;
let raw: Redis;
const received: unknown[] = [];

beforeAll(async () => {
  if (!process.env.REDIS_URL) throw new Error('REDIS_URL is not set (see README: Development)');
  const url = new URL(process.env.REDIS_URL);
  url.pathname = '/63';
  repo = new RedisRepository({ redisUrl: url.toString() } as GatewayConfig);
  await repo.connected();
  bus = new FeedBusRepository(repo);
  bus.attach((e) => received.push(e));
  raw = new Redis(url.toString());
});

afterAll(async () => {
  bus?.onApplicationShutdown();
  await repo?.onApplicationShutdown();
  await raw?.quit();
});

/** Kills this gateway's feed connection in Redis; resolves once ioredis saw it go. */
async function cutFeedConnection(): Promise<void> {
  const list = (await raw.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
  const ids = list
    .split('\n')
    .filter((l) => l.includes('name=coderoom-gateway-feed-sub') && l.includes(' db=63 '))
    .map((l) => /id=(\d+)/.exec(l)?.[1]);
  // Other gateways on this Redis may share the name: only this test's (database 63).
  const closed = new Promise((resolve) => repo.feedSub.once('close', resolve));
  for (const id of ids) {
    const info = list.split('\n').find((l) => l.includes(`id=${id} `)) ?? '';
    const channels = Number(/ssub=(\d+)/.exec(info)?.[1] ?? 0);
    if (id && channels > 0) await raw.call('CLIENT', 'KILL', 'ID', id);
  }
  await closed;
}

it('a watch answered right after the feed connection was lost waits for the re-subscription, and gets what follows', async () => {
  const runId = `outage-${Date.now()}`;
  await bus.listen(runId);
  const before = { event: { runId, n: 1 } };
  await raw.spublish(redisKeys.feedChannel(runId), JSON.stringify(before));
  await until('the event before the cut', () => received.length === 1, 5000);

  await cutFeedConnection();
  // A run:watch now: the node must not take the old subscription for one in effect. Once
  // listen() resolves, whatever is published reaches it (this is what makes a watch's backlog
  // read after it exact).
  await bus.listen(runId);
  const after = { event: { runId, n: 2 } };
  await raw.spublish(redisKeys.feedChannel(runId), JSON.stringify(after));
  await until('the event after the re-subscription', () => received.length === 2, 5000);
  expect(received).toEqual([before, after]);
});

it('a channel forgotten after the connection came back is unsubscribed in Redis', async () => {
  const runId = `outage-forget-${Date.now()}`;
  await bus.listen(runId);
  await cutFeedConnection();
  await bus.listen(runId); // confirmed on the new connection
  bus.forget(runId);
  const listeners = async () =>
    Number(
      (
        (await raw.call('PUBSUB', 'SHARDNUMSUB', redisKeys.feedChannel(runId))) as [string, number]
      )[1],
    );
  await until('no node listens to the channel', async () => (await listeners()) === 0, 5000);
});

it('a feed connection ioredis left deaf (its reconnect refused by Redis) is found by the probe and reconnected', async () => {
  const runId = `outage-deaf-${Date.now()}`;
  await bus.listen(runId);
  const tag = { event: { runId, n: 0 } };
  // Redis takes no new connection for a moment (maxclients below the connections it has; those
  // stay), and the feed connection is cut: its reconnects are refused with an error, after which
  // ioredis keeps a connection that hears nothing (SUBSCRIBER_OPTIONS: no ready check).
  const maxclients = ((await raw.call('CONFIG', 'GET', 'maxclients')) as string[])[1];
  const clients = Number(/connected_clients:(\d+)/.exec(await raw.info('clients'))?.[1]);
  await raw.call('CONFIG', 'SET', 'maxclients', String(clients - 1));
  try {
    await cutFeedConnection();
    await new Promise((r) => setTimeout(r, 600));
  } finally {
    await raw.call('CONFIG', 'SET', 'maxclients', maxclients);
  }
  // Within two lost probes (5 s each) the node reconnects, and the run's events reach it again.
  await until(
    'an event of the run to reach the node again',
    async () => {
      tag.event.n++;
      await raw.spublish(redisKeys.feedChannel(runId), JSON.stringify(tag));
      await new Promise((r) => setTimeout(r, 300));
      return received.some((e) => (e as typeof tag).event.runId === runId);
    },
    40_000,
  );
  await bus.listen(`${runId}-new`); // and a new subscription is answered
}, 60_000);
