import { z } from 'zod';
import type { LanguageInfo } from './runs.js';

/**
 * `sandbox/languages/<id>/language.json`: a language is data. `compile` and `run` are one-line
 * shell commands run by the sandbox runner inside the program's working directory.
 */
export const languageDefinitionSchema = z.object({
  id: z.string().regex(/^[a-z][a-z0-9-]*$/),
  name: z.string().min(1),
  version: z.string().min(1),
  fileName: z.string().regex(/^[A-Za-z0-9_.-]+$/),
  image: z.string().regex(/^[a-z0-9-]+$/),
  compile: z.string().min(1).nullable(),
  run: z.string().min(1),
  limits: z
    .object({
      memoryMb: z.number().int().positive().optional(),
      wallMs: z.number().int().positive().optional(),
      compileWallMs: z.number().int().positive().optional(),
    })
    .optional(),
  testProgram: z.string().min(1),
});
export type LanguageDefinition = z.infer<typeof languageDefinitionSchema>;

export function toLanguageInfo(l: LanguageDefinition): LanguageInfo {
  return { id: l.id, name: l.name, version: l.version, fileName: l.fileName };
}
