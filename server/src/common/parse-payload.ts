import { CoderoomError } from '@coderoom/contracts';
import type { z } from 'zod';

/** Parses a payload with a contracts schema; failures become INVALID with the fields at fault. */
export function parsePayload<S extends z.ZodType>(schema: S, payload: unknown): z.output<S> {
  const parsed = schema.safeParse(payload ?? undefined);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({
      path: i.path.join('.'),
      message: i.message,
    }));
    const where = details.map((d) => d.path || '(payload)').join(', ');
    throw new CoderoomError('INVALID', `invalid payload: ${where}`, { details });
  }
  return parsed.data;
}
