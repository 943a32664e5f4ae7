import { Injectable } from '@nestjs/common';
import { DatabaseRepository } from '../repositories/database.repository.js';
import { QueueRepository } from '../repositories/queue.repository.js';
import { RedisRepository } from '../repositories/redis.repository.js';

@Injectable()
export class HealthService {
  constructor(
    private readonly redis: RedisRepository,
    private readonly db: DatabaseRepository,
    private readonly queue: QueueRepository,
  ) {}

  async checks(): Promise<Record<string, boolean>> {
    const [redis, database, queue] = await Promise.all([
      this.redis.ping(),
      this.db.ping(),
      this.queue.ping(),
    ]);
    return { redis, database, queue };
  }
}
