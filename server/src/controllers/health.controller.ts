import { Controller, Get, HttpException, HttpStatus } from '@nestjs/common';
import { HealthService } from '../services/health.service.js';

@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** Liveness: the process answers. */
  @Get('health')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: Redis, the database and the queue are reachable. */
  @Get('ready')
  async ready(): Promise<{ status: 'ready'; checks: Record<string, boolean> }> {
    const checks = await this.health.checks();
    if (!Object.values(checks).every(Boolean)) {
      throw new HttpException({ status: 'unavailable', checks }, HttpStatus.SERVICE_UNAVAILABLE);
    }
    return { status: 'ready', checks };
  }
}
