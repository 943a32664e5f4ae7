import { pino, type Logger as Pino } from 'pino';

/** Keys whose values never reach a log line (tokens, secrets, program sources). */
const REDACT = [
  'token',
  'auth',
  'authorization',
  'password',
  'secret',
  'source',
  'files',
  'stdin',
  '*.token',
  '*.authorization',
  '*.source',
  '*.files',
  '*.stdin',
];

/**
 * Structured JSON logs (pino) for Nest: pass it to `app.useLogger()`. A message may be an
 * object; its fields (runId, jobId, socketId, userId, requestId, ...) become JSON fields.
 * Shaped like Nest's LoggerService without importing Nest.
 */
export class JsonLogger {
  private readonly pino: Pino;

  constructor(service: string, level = process.env.LOG_LEVEL ?? 'info') {
    this.pino = pino({ level, base: { service }, redact: { paths: REDACT, censor: '[redacted]' } });
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  /** Nest passes optional params as (stack?, context?) for errors and (context?) otherwise. */
  private write(
    level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal',
    message: unknown,
    rest: unknown[],
  ): void {
    const context =
      typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    const stack =
      level === 'error' && rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : undefined;
    const fields: Record<string, unknown> = { context, ...(stack ? { stack } : {}) };
    if (message && typeof message === 'object' && !(message instanceof Error)) {
      const { msg, ...more } = message as Record<string, unknown>;
      this.pino[level]({ ...fields, ...more }, typeof msg === 'string' ? msg : '');
    } else if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else {
      this.pino[level](fields, String(message));
    }
  }
}
