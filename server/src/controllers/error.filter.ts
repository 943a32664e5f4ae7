import {
  Catch,
  HttpException,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { CoderoomError, type ApiError, type ErrorCode } from '@coderoom/contracts';
import { unavailable } from '../services/unavailable.js';

const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  INVALID: 400,
  NOT_FOUND: 404,
  TOO_LARGE: 413,
  UNSUPPORTED_LANGUAGE: 400,
  RATE_LIMITED: 429,
  BUSY: 503,
  CONFLICT: 409,
  INTERNAL: 500,
};

/** HTTP errors carry the same `{ ok: false, error }` body as socket acknowledgements. */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(ApiErrorFilter.name);

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host
      .switchToHttp()
      .getResponse<{ status(n: number): { json(b: unknown): void } }>();
    const known = err instanceof CoderoomError ? err : unavailable(err);
    if (known) {
      res.status(HTTP_STATUS[known.code]).json({ ok: false, error: known.toApiError() });
      return;
    }
    if (err instanceof HttpException) {
      const status = err.getStatus();
      const body = err.getResponse();
      if (status === 503 && typeof body === 'object') {
        res.status(status).json(body);
        return;
      }
      const error: ApiError = {
        code: status === 404 ? 'NOT_FOUND' : status === 413 ? 'TOO_LARGE' : 'INVALID',
        message: err.message,
      };
      res.status(status).json({ ok: false, error });
      return;
    }
    this.logger.error((err as Error)?.stack ?? String(err));
    res.status(500).json({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
  }
}
