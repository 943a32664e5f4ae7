import { Injectable } from '@nestjs/common';
import { readiness, type Readiness } from '@coderoom/platform';
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

  /**
   * Whether this node can serve sockets (its /health, which the balancer checks): false while
   * the run feed does not reach it although Redis answers, a fault of this node alone (during
   * a Redis outage every node is alike, and the node keeps its connections).
   */
  async serving(): Promise<boolean> {
    return this.bus.healthy || !(await this.redis.ping());
  }

  /** `/ready`: Redis, the database and the queue answer, and the run feed reaches this node. */
  checks(): Promise<Readiness> {
    return readiness({
      redis: () => this.redis.ping(),
      database: () => this.db.ping(),
      queue: () => this.queue.ping(),
      // Events published in Redis (by workers) reach this node's sockets.
      feed: () => this.bus.healthy,
    });
  }
}
