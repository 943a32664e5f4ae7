import { createServer, type Server } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import {
  Controller,
  Get,
  Header,
  Headers,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  Res,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { QueueRepository } from '../repositories/queue.repository.js';

/** The Prometheus text of this node (the queue depth is read at scrape time). */
@Injectable()
export class MetricsScrape {
  constructor(
    private readonly metrics: MetricsRepository,
    private readonly queue: QueueRepository,
  ) {}

  async render(): Promise<{ contentType: string; body: string }> {
    return this.metrics.render(await this.queue.waitingCount());
  }
}

/**
 * `GET /metrics` on the API port answers only a request bearing METRICS_TOKEN (Prometheus:
 * `authorization: { credentials: <token> }`); without METRICS_TOKEN the route answers 404 like
 * any unknown one. The API port is public; metrics are not.
 */
@Controller('metrics')
export class MetricsController {
  private readonly token: Buffer | null;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly scrape: MetricsScrape,
  ) {
    this.token = config.metrics.token ? Buffer.from(`Bearer ${config.metrics.token}`) : null;
  }

  @Get()
  @Header('Cache-Control', 'no-store')
  async get(
    @Headers('authorization') authorization: string | undefined,
    @Res() res: { type(t: string): { send(b: string): void } },
  ): Promise<void> {
    const given = Buffer.from(authorization ?? '');
    if (!this.token || given.length !== this.token.length || !timingSafeEqual(given, this.token)) {
      throw new NotFoundException();
    }
    const { contentType, body } = await this.scrape.render();
    res.type(contentType).send(body);
  }
}

/**
 * METRICS_PORT: a second listener serving only `GET /metrics`, without a token, for a scraper
 * on a private network (the worker does the same on WORKER_HTTP_PORT). Bound to HOST.
 */
@Injectable()
export class MetricsPort implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MetricsPort.name);
  private server: Server | null = null;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly scrape: MetricsScrape,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { port, token } = this.config.metrics;
    if (!port) {
      if (!token) this.logger.warn('metrics are off: set METRICS_PORT or METRICS_TOKEN');
      return;
    }
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.scrape.render().then(
        ({ contentType, body }) =>
          res
            .writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' })
            .end(body),
        (err: Error) => {
          this.logger.warn(`metrics scrape failed: ${err.message}`);
          res.writeHead(500).end();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.config.host, resolve);
    });
    this.server = server;
    this.logger.log(`metrics on http://${this.config.host}:${port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(null)));
  }
}
