import { Injectable } from '@nestjs/common';
import { DockerRepository } from '../repositories/docker.repository.js';
import { RedisRepository } from '../repositories/redis.repository.js';
import { RunRepository } from '../repositories/run.repository.js';

@Injectable()
export class HealthService {
  constructor(
    private readonly redis: RedisRepository,
    private readonly runs: RunRepository,
    private readonly docker: DockerRepository,
  ) {}

  async checks(): Promise<Record<string, boolean>> {
    const [redis, database, docker] = await Promise.all([
      this.redis.ping(),
      this.runs.ping(),
      this.docker.ping(),
    ]);
    return { redis, database, docker };
  }
}
