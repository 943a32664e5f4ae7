import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { SUBSCRIBER_OPTIONS } from '@coderoom/platform';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';

/** Reconnection attempts a command waits through before it fails (~2 s with ioredis' backoff). */
export const FAIL_FAST_RETRIES = 3;

/**
 * Owns the gateway's Redis connections: one for commands, the publish/subscribe pair the
 * socket.io Redis adapter needs (a subscribed connection can run nothing else), and one
 * subscribed to the run feeds this node serves (FeedBusRepository).
 */
@Injectable()
export class RedisRepository implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisRepository.name);
  readonly client: Redis;
  readonly adapterPub: Redis;
  readonly adapterSub: Redis;
  /** Replaced by `replaceFeedSub` when ioredis leaves it deaf (FeedBusRepository's probe). */
  feedSub: Redis;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    this.client = this.connect(config.redisUrl, 'commands');
    this.adapterPub = this.connect(config.redisUrl, 'adapter-pub');
    this.adapterSub = this.connect(config.redisUrl, 'adapter-sub');
    this.feedSub = this.connect(config.redisUrl, 'feed-sub');
  }

  /** A new feed connection in place of the current one, which is closed. */
  replaceFeedSub(): Redis {
    const old = this.feedSub;
    this.feedSub = this.connect(this.config.redisUrl, 'feed-sub');
    // Its 'error' listener stays: a late error must not go unhandled.
    for (const event of ['smessage', 'close', 'ready']) old.removeAllListeners(event);
    old.disconnect();
    return this.feedSub;
  }

  private connect(url: string, role: string): Redis {
    const client = new Redis(url, {
      // Commands and feed subscriptions fail within a few seconds while Redis is away (the
      // client gets BUSY and retries) instead of piling up; the adapter's pair waits, as the
      // adapter expects.
      maxRetriesPerRequest: role === 'commands' || role === 'feed-sub' ? FAIL_FAST_RETRIES : null,
      connectionName: `coderoom-gateway-${role}`,
      ...(role.endsWith('-sub') ? SUBSCRIBER_OPTIONS : {}),
    });
    client.on('error', (err: Error) => this.logger.warn(`redis (${role}): ${err.message}`));
    return client;
  }

  /** Resolves once every connection is up (the adapter is created after this: main.ts). */
  async connected(): Promise<void> {
    const ready = (c: Redis) =>
      new Promise<void>((resolve) => {
        if (c.status === 'ready') resolve();
        else c.once('ready', () => resolve());
      });
    await Promise.all([this.client, this.adapterPub, this.adapterSub, this.feedSub].map(ready));
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled(
      [this.client, this.adapterPub, this.adapterSub, this.feedSub].map((c) => c.quit()),
    );
  }
}
