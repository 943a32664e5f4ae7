import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Server } from 'socket.io';
import {
  redisKeys,
  type ClientToServerEvents,
  type InterServerEvents,
  type RunFeedEvent,
  type ServerToClientEvents,
} from '@coderoom/contracts';
import { RedisRepository } from './redis.repository.js';

/** How often a node checks that the feed reaches it, once it did. */
const PROBE_EVERY_MS = 5000;
/** A probe not back within this counts as lost. */
const PROBE_TIMEOUT_MS = 5000;
/** Lost probes in a row before the node counts as deaf (one may be a slow moment). */
const LOST_PROBES = 2;

export type CoderoomServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents>;

/**
 * Run feed transport between nodes: one Redis sharded pub/sub channel per run
 * (`redisKeys.feedChannel`, SPUBLISH / SSUBSCRIBE, Redis >= 7). Workers publish a run's events
 * on its channel; this node subscribes to the channels of the runs it has watchers of
 * (`listen` / `forget`, driven by RunFeedService), so it never receives, parses or even hears of
 * the output of runs it does not serve, however many gateways and runs there are.
 */
@Injectable()
export class FeedBusRepository implements OnApplicationShutdown {
  private readonly logger = new Logger(FeedBusRepository.name);
  private handler: (e: RunFeedEvent) => void = () => undefined;
  /**
   * Channel -> resolves once Redis confirmed the subscription (removed when it failed), and the
   * connection it was confirmed on: after a reconnect ioredis subscribes again by itself, but
   * only a confirmation on the new connection says the subscription is in effect again.
   */
  private readonly channels = new Map<string, { confirmed: Promise<void>; connection: number }>();
  /** Counts the feed connection's losses (its 'close' events). */
  private connection = 0;
  /**
   * Channels forgotten whose unsubscribe failed (Redis was away): ioredis still counts them as
   * subscribed and would subscribe them again on reconnect; unsubscribed once Redis is back.
   */
  private readonly unwanted = new Set<string>();
  private readonly probeChannel = redisKeys.feedProbeChannel(randomUUID());
  private readonly probes = new Map<string, () => void>();
  private timer: NodeJS.Timeout | null = null;
  /** True while the last probe came back: feed events published in Redis reach this node. */
  healthy = false;
  /** True once a probe came back: until then the node takes no connections. */
  started = false;
  private lost = 0;

  constructor(private readonly redis: RedisRepository) {
    this.wire(redis.feedSub);
  }

  private wire(sub: Redis): void {
    sub.on('close', () => this.connection++);
    sub.on('ready', () => this.dropUnwanted());
    sub.on('smessage', (channel: string, message: string) => {
      if (channel === this.probeChannel) {
        this.probes.get(message)?.();
        return;
      }
      let e: RunFeedEvent;
      try {
        e = JSON.parse(message) as RunFeedEvent;
      } catch {
        this.logger.warn({ msg: 'unreadable feed message', channel });
        return;
      }
      this.handler(e);
    });
  }

  /**
   * Deaf while Redis answers: a new feed connection, subscribed again to every channel this
   * node wants. ioredis can leave a subscriber connection that reconnected while Redis refused
   * it (too many clients; still loading its data) subscribed to nothing and answering no
   * SSUBSCRIBE, without ever closing it (SUBSCRIBER_OPTIONS: no ready check), and reconnecting
   * the same client does not mend it (both seen with a real Redis: feed-outage.e2e.spec.ts).
   */
  private renewConnection(): void {
    this.logger.warn('the run feed connection hears nothing: replacing it');
    const sub = this.redis.replaceFeedSub();
    this.connection++;
    this.unwanted.clear(); // the new connection has no subscription at all
    this.wire(sub);
    for (const channel of [...this.channels.keys()]) {
      this.subscribe(channel).catch(() => undefined);
    }
  }

  /** Called once at start: `handler` receives the events of every run this node listens to. */
  attach(handler: (e: RunFeedEvent) => void): void {
    this.handler = handler;
    this.schedule(0);
  }

  /**
   * This node wants the run's events: resolves once the subscription is in effect in Redis, so
   * every event published after that (and after a read that follows it) reaches this node.
   * Rejects when Redis cannot be reached (then nothing is subscribed).
   */
  listen(runId: string): Promise<void> {
    return this.subscribe(redisKeys.feedChannel(runId));
  }

  /** This node no longer serves the run (its last watcher went, or the run ended). */
  forget(runId: string): void {
    const channel = redisKeys.feedChannel(runId);
    if (!this.channels.delete(channel)) return;
    this.unsubscribe(channel);
  }

  /** Runs whose channels this node is subscribed to (or subscribing). */
  get listening(): number {
    return this.channels.size - (this.channels.has(this.probeChannel) ? 1 : 0);
  }

  /**
   * Publishes an event on its run's channel (rare here: a run cancelled while still queued).
   * This node's own watchers get it back through their subscription, like every other node's.
   */
  publish(e: RunFeedEvent): void {
    this.redis.adapterPub
      .spublish(redisKeys.feedChannel(e.event.runId), JSON.stringify(e))
      .catch((err: Error) => this.logger.error(`feed publish: ${err.message}`));
  }

  /**
   * Sends a probe on this node's own sharded channel, the way workers send feed events, and
   * waits for it to come back through the feed subscription connection. Until the first one
   * does, the node is not ready: a run started earlier could miss its first events.
   */
  async probe(): Promise<boolean> {
    // While Redis is away a probe would only wait in the client's queue (and pile up there).
    if (this.redis.adapterPub.status !== 'ready') return false;
    const nonce = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    // The whole round trip is bounded, the subscription included: on a connection ioredis
    // broke (below) an SSUBSCRIBE is never answered.
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
    });
    const roundTrip = async () => {
      await this.subscribe(this.probeChannel);
      const back = new Promise<boolean>((resolve) => this.probes.set(nonce, () => resolve(true)));
      await this.redis.adapterPub.spublish(this.probeChannel, nonce);
      return back;
    };
    try {
      return await Promise.race([roundTrip(), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      this.probes.delete(nonce);
    }
  }

  onApplicationShutdown(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private subscribe(channel: string): Promise<void> {
    const known = this.channels.get(channel);
    // Confirmed (or being confirmed) on the connection we have: in effect. One confirmed before
    // the connection was lost is subscribed again (ioredis does that too; a repeated SSUBSCRIBE
    // is harmless): its reply is what says events reach this node again.
    if (known && known.connection === this.connection) return known.confirmed;
    this.unwanted.delete(channel);
    const confirmed = this.redis.feedSub.ssubscribe(channel).then(() => undefined);
    const entry = { confirmed, connection: this.connection };
    this.channels.set(channel, entry);
    confirmed.catch(() => {
      if (this.channels.get(channel) !== entry) return;
      this.channels.delete(channel);
      // ioredis may still hold it (subscribed before the loss) and subscribe it on reconnect.
      this.unwanted.add(channel);
    });
    return confirmed;
  }

  /** Sent after the subscription on the same connection: Redis applies them in that order. */
  private unsubscribe(channel: string): void {
    this.redis.feedSub.sunsubscribe(channel).then(
      () => this.unwanted.delete(channel),
      (err: Error) => {
        // Wanted again meanwhile: leave it subscribed.
        if (!this.channels.has(channel)) this.unwanted.add(channel);
        this.logger.warn(`feed unsubscribe: ${err.message}`);
      },
    );
  }

  /** Redis is back: channels forgotten while it was away are unsubscribed now. */
  private dropUnwanted(): void {
    for (const channel of this.unwanted) {
      if (this.channels.has(channel)) this.unwanted.delete(channel);
      else this.unsubscribe(channel);
    }
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      void this.probe().then((ok) => {
        this.lost = ok ? 0 : this.lost + 1;
        const healthy = ok || (this.started && this.lost < LOST_PROBES);
        if (healthy !== this.healthy) {
          if (healthy) this.logger.log('the run feed reaches this node');
          else this.logger.error('the run feed does not reach this node');
        }
        this.healthy = healthy;
        this.started ||= ok;
        // Deaf while Redis answers (below).
        if (!ok && this.lost >= LOST_PROBES && this.redis.adapterPub.status === 'ready') {
          this.renewConnection();
        }
        if (this.timer) this.schedule(ok ? PROBE_EVERY_MS : 200);
      });
    }, ms);
  }
}
