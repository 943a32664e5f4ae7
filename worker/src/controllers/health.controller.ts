import { Controller, Get, Header, HttpException, HttpStatus, Res } from '@nestjs/common';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { HealthService } from '../services/health.service.js';

/** The worker's own small HTTP port: liveness, readiness and Prometheus metrics. */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly metrics: MetricsRepository,
  ) {}

  @Get('health')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready when Redis, the database and Docker answer. */
  @Get('ready')
  async ready(): Promise<{ status: 'ready'; checks: Record<string, boolean> }> {
    const { ready, checks } = await this.health.checks();
    if (!ready) {
      throw new HttpException({ status: 'unavailable', checks }, HttpStatus.SERVICE_UNAVAILABLE);
    }
    return { status: 'ready', checks };
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async scrape(@Res() res: { type(t: string): { send(b: string): void } }): Promise<void> {
    const { contentType, body } = await this.metrics.render();
    res.type(contentType).send(body);
  }
}
