import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Redis } from 'ioredis';
import type { ServerToClientEvents } from '@coderoom/contracts';
import {
  CLASSROOM_CHANNEL,
  SUBSCRIBER_OPTIONS,
  SessionFeed,
  sessionKeys,
  type ClassroomMessage,
} from '@coderoom/platform';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import type { CoderoomServer } from './feed-bus.repository.js';
import { RedisRepository } from './redis.repository.js';

/** How often a node says it is alive, and how long that lasts: a dead node is seen in <= 13 s. */
const HEARTBEAT_MS = 3000;
const ALIVE_SECONDS = 10;

/** The socket.io room of a session's connections. */
export const sessionRoom = (sessionId: string) => `session:${sessionId}`;

type Emit<E extends keyof ServerToClientEvents> = Parameters<ServerToClientEvents[E]>[0];

/**
 * The classroom's transport between gateway nodes: the SessionFeed script (dashboard numbering,
 * state, presence), the subscription to its channel, events to a session's room (through the
 * socket.io Redis adapter, so they reach members on every node) and this node's liveness, so
 * that the connections of a node that died leave their sessions' presence within 15 s.
 */
@Injectable()
export class ClassroomBusRepository implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ClassroomBusRepository.name);
  /** This gateway process. */
  readonly nodeId = randomUUID();
  readonly feed: SessionFeed;
  private readonly sub: Redis;
  private server: CoderoomServer | null = null;
  private readonly handlers: ((m: ClassroomMessage) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly redis: RedisRepository,
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
  ) {
    this.feed = new SessionFeed(redis.client);
    this.sub = new Redis(config.redisUrl, {
      maxRetriesPerRequest: null,
      connectionName: 'coderoom-gateway-classroom',
      ...SUBSCRIBER_OPTIONS,
    });
    this.sub.on('error', (err: Error) => this.logger.warn(`redis (classroom): ${err.message}`));
    this.sub.on('message', (_channel: string, raw: string) => {
      let m: ClassroomMessage;
      try {
        m = JSON.parse(raw) as ClassroomMessage;
      } catch {
        return;
      }
      for (const h of this.handlers) h(m);
    });
  }

  async onModuleInit(): Promise<void> {
    await this.sub.subscribe(CLASSROOM_CHANNEL);
    await this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat().then(() => this.sweep()), HEARTBEAT_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // A clean stop: our connections are gone (the sockets were closed before this), so the
    // node's marks can go at once; a crash leaves them to the other nodes' sweep.
    await this.redis.client
      .multi()
      .del(sessionKeys.nodeAlive(this.nodeId))
      .exec()
      .catch(() => undefined);
    await this.sub.quit().catch(() => undefined);
  }

  attach(server: CoderoomServer): void {
    this.server = server;
  }

  /** `handler` gets every message of every session (dashboard updates, presence, settings). */
  onMessage(handler: (m: ClassroomMessage) => void): void {
    this.handlers.push(handler);
  }

  /** To every connection in the session's room, on every node. */
  toRoom<E extends keyof ServerToClientEvents>(
    sessionId: string,
    event: E,
    payload: Emit<E>,
  ): void {
    const room = this.server?.to(sessionRoom(sessionId));
    (room?.emit as ((e: E, p: Emit<E>) => boolean) | undefined)?.call(room, event, payload);
  }

  /** To this node's connections in the session's room (each node does it for its own). */
  toLocalRoom<E extends keyof ServerToClientEvents>(
    sessionId: string,
    event: E,
    payload: Emit<E>,
  ): void {
    const room = this.server?.local.to(sessionRoom(sessionId));
    (room?.emit as ((e: E, p: Emit<E>) => boolean) | undefined)?.call(room, event, payload);
  }

  /**
   * Counts a document's stored bytes and updates (approximate: reset by each compaction, lost
   * with Redis, which only delays a compaction or a size check). Resolves with both after `add`.
   */
  async docCounters(
    sessionId: string,
    addBytes: number,
  ): Promise<{ bytes: number; count: number }> {
    const key = `coderoom:session:${sessionId}:doc`;
    const r = await this.redis.client
      .multi()
      .hincrby(key, 'bytes', addBytes)
      .hincrby(key, 'count', addBytes > 0 ? 1 : 0)
      .expire(key, 7 * 24 * 3600)
      .exec();
    return { bytes: Number(r?.[0]?.[1] ?? 0), count: Number(r?.[1]?.[1] ?? 0) };
  }

  async resetDocCounters(sessionId: string, bytes: number): Promise<void> {
    const key = `coderoom:session:${sessionId}:doc`;
    await this.redis.client.hset(key, 'bytes', bytes, 'count', 1);
  }

  /**
   * Claims the compaction of a session's document (one node, one request at a time); false when
   * another holds it. Expires by itself should its holder die.
   */
  async claimDocCompaction(sessionId: string): Promise<boolean> {
    const key = `coderoom:session:${sessionId}:doc:compacting`;
    return (await this.redis.client.set(key, this.nodeId, 'PX', 60_000, 'NX')) === 'OK';
  }

  async releaseDocCompaction(sessionId: string): Promise<void> {
    await this.redis.client.del(`coderoom:session:${sessionId}:doc:compacting`);
  }

  /** Notes that this node holds connections in `sessionId` (for the sweep should it die). */
  async holdSession(sessionId: string): Promise<void> {
    await this.redis.client.sadd(sessionKeys.nodeSessions(this.nodeId), sessionId);
  }

  private async heartbeat(): Promise<void> {
    try {
      await this.redis.client
        .multi()
        .set(sessionKeys.nodeAlive(this.nodeId), '1', 'EX', ALIVE_SECONDS)
        .sadd(sessionKeys.nodes, this.nodeId)
        .exec();
    } catch (err) {
      this.logger.warn(`classroom heartbeat: ${(err as Error).message}`);
    }
  }

  /**
   * Removes the connections of nodes that stopped saying they are alive (crashed, killed) from
   * their sessions, which publishes the presence change. One node does it per dead node.
   */
  private async sweep(): Promise<void> {
    try {
      const nodes = await this.redis.client.smembers(sessionKeys.nodes);
      for (const node of nodes) {
        if (node === this.nodeId) continue;
        if (await this.redis.client.exists(sessionKeys.nodeAlive(node))) continue;
        const mine = await this.redis.client.set(
          sessionKeys.nodeSweep(node),
          this.nodeId,
          'EX',
          60,
          'NX',
        );
        if (!mine) continue;
        const sessions = await this.redis.client.smembers(sessionKeys.nodeSessions(node));
        for (const sessionId of sessions) {
          const conns = await this.redis.client.hgetall(sessionKeys.conns(sessionId));
          for (const [socketId, value] of Object.entries(conns)) {
            // `<user id> <node id>`: a user id may hold spaces (dev tokens' `dev:<name>`).
            const cut = value.lastIndexOf(' ');
            const [userId, owner] = [value.slice(0, cut), value.slice(cut + 1)];
            if (owner === node)
              await this.feed.connection(sessionId, 'remove', socketId, userId, node);
          }
        }
        await this.redis.client
          .multi()
          .del(sessionKeys.nodeSessions(node))
          .srem(sessionKeys.nodes, node)
          .exec();
        this.logger.log(
          `gateway node ${node} is gone: its connections left ${sessions.length} session(s)`,
        );
      }
    } catch (err) {
      this.logger.warn(`classroom sweep: ${(err as Error).message}`);
    }
  }
}
