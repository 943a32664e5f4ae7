import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { languageDefinitionSchema, type LanguageDefinition } from '@coderoom/contracts';

/**
 * Reads every sandbox/languages/<id>/language.json (Node only; the browser never needs it).
 * Throws with a precise message for the first invalid definition, so a bad language stops boot.
 */
export function loadLanguages(dir: string): Map<string, LanguageDefinition> {
  if (!existsSync(dir)) throw new Error(`languages directory ${dir} does not exist`);
  const out = new Map<string, LanguageDefinition>();
  for (const id of readdirSync(dir).sort()) {
    const file = join(dir, id, 'language.json');
    if (!existsSync(file)) continue;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = languageDefinitionSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
      throw new Error(`${file} is invalid: ${issues.join('; ')}`);
    }
    if (parsed.data.id !== id) {
      throw new Error(`${file}: id "${parsed.data.id}" must match its folder "${id}"`);
    }
    out.set(id, parsed.data);
  }
  if (out.size === 0) throw new Error(`no languages found in ${dir}`);
  for (const l of out.values()) {
    const main = l.versionOf === undefined ? undefined : out.get(l.versionOf);
    if (l.versionOf !== undefined && (!main || main.versionOf !== undefined)) {
      throw new Error(`${l.id}: versionOf "${l.versionOf}" is not a language in ${dir}`);
    }
  }
  return out;
}
