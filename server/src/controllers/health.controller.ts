import { Controller, Get, HttpException, HttpStatus } from '@nestjs/common';
import { HealthService } from '../services/health.service.js';

@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /**
   * The process answers and can serve sockets (the balancer's check): 503 before its run feed
   * works, and if it stops working while Redis answers (see HealthService.serving).
   */
  @Get('health')
  async live(): Promise<{ status: 'ok' }> {
    if (!(await this.health.serving())) {
      throw new HttpException(
        { status: 'unavailable', reason: 'the run feed does not reach this node' },
        HttpStatus.SERVICE_UNAVAILABLE,
      );
    }
    return { status: 'ok' };
  }

  /** Readiness: Redis, the database and the queue are reachable. */
  @Get('ready')
  async ready(): Promise<{ status: 'ready'; checks: Record<string, boolean> }> {
    const { ready, checks } = await this.health.checks();
    if (!ready) {
      throw new HttpException({ status: 'unavailable', checks }, HttpStatus.SERVICE_UNAVAILABLE);
    }
    return { status: 'ready', checks };
  }
}
