import {
  Catch,
  HttpException,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { translateError } from '../common/api-error.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';

interface HttpRequest {
  method?: string;
  url?: string;
}
interface HttpResponse {
  status(n: number): { json(b: unknown): void };
}

/** HTTP errors carry the same `{ ok: false, error }` body as socket acknowledgements. */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(ApiErrorFilter.name);

  constructor(private readonly metrics: MetricsRepository) {}

  catch(err: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const res = http.getResponse<HttpResponse>();
    // /health and /ready answer 503 with their own body (what is down), not an error shape.
    if (err instanceof HttpException && err.getStatus() === 503) {
      const body = err.getResponse();
      if (typeof body === 'object') {
        res.status(503).json(body);
        return;
      }
    }
    const { error, status, kind } = translateError(err);
    const req = http.getRequest<HttpRequest>();
    const route = `${req.method ?? '?'} ${req.url?.split('?')[0] ?? '?'}`;
    if (kind === 'outage') this.logger.warn({ msg: `${route}: ${(err as Error).message}`, route });
    if (kind === 'internal') {
      this.metrics.error();
      this.logger.error({
        msg: `${route} failed`,
        route,
        err: (err as Error)?.stack ?? String(err),
      });
    }
    res.status(status).json({ ok: false, error });
  }
}
