import { Injectable } from '@nestjs/common';
import { readiness, type Readiness } from '@coderoom/platform';
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

  /** `/ready`: Redis, the database and Docker answer. */
  checks(): Promise<Readiness> {
    return readiness({
      redis: () => this.redis.ping(),
      database: () => this.runs.ping(),
      docker: () => this.docker.ping(),
    });
  }
}
