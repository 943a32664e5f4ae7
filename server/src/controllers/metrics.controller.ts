import { Controller, Get, Header, Res } from '@nestjs/common';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { QueueRepository } from '../repositories/queue.repository.js';

@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsRepository,
    private readonly queue: QueueRepository,
  ) {}

  /** Prometheus text format. */
  @Get()
  @Header('Cache-Control', 'no-store')
  async scrape(@Res() res: { type(t: string): { send(b: string): void } }): Promise<void> {
    const { contentType, body } = await this.metrics.render(await this.queue.waitingCount());
    res.type(contentType).send(body);
  }
}
