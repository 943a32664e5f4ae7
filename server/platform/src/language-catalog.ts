import type { LanguageDefinition } from '@coderoom/contracts';
import { loadLanguages } from './load-languages.js';

/**
 * The installed languages (sandbox/languages/<id>/language.json), read once at boot: the one
 * language repository of both apps (each provides it from its own LANGUAGES_DIR).
 */
export class LanguageCatalog {
  private readonly languages: Map<string, LanguageDefinition>;

  constructor(dir: string) {
    this.languages = loadLanguages(dir);
  }

  all(): LanguageDefinition[] {
    return [...this.languages.values()];
  }

  get(id: string): LanguageDefinition | undefined {
    return this.languages.get(id);
  }
}
