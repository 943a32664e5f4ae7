import { Injectable } from '@nestjs/common';
import { DatabaseRepository } from '../repositories/database.repository.js';
import { FeedBusRepository } from '../repositories/feed-bus.repository.js';
import { QueueRepository } from '../repositories/queue.repository.js';
import { RedisRepository } from '../repositories/redis.repository.js';

@Injectable()
export class HealthService {
  constructor(
    private readonly redis: RedisRepository,
    private readonly db: DatabaseRepository,
    private readonly queue: QueueRepository,
    private readonly bus: FeedBusRepository,
  ) {}

  async checks(): Promise<Record<string, boolean>> {
    const [redis, database, queue] = await Promise.all([
      this.redis.ping(),
      this.db.ping(),
      this.queue.ping(),
    ]);
    // feed: events published in Redis (by workers) reach this node's sockets.
    return { redis, database, queue, feed: this.bus.healthy };
  }
}
