import { resolveLanguage, type LanguageDefinition } from '@coderoom/contracts';
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

  /** The languages as `languages:list` names them (without their other versions). */
  listed(): LanguageDefinition[] {
    return this.all().filter((l) => !l.versionOf);
  }

  /**
   * The definitions that can run: those whose id is in `built` (the languages whose sandbox image
   * some live worker has), or all of them when that is unknown (null). `languageInfos` of these
   * lists a language only when its default version can run, and only the versions that can.
   */
  runnable(built: ReadonlySet<string> | null): LanguageDefinition[] {
    return built ? this.all().filter((l) => built.has(l.id)) : this.all();
  }

  get(id: string): LanguageDefinition | undefined {
    return this.languages.get(id);
  }

  /** The definition that runs `{ language, version }` (`resolveLanguage`), or null. */
  resolve(language: string, version?: string): LanguageDefinition | null {
    return resolveLanguage(this.languages, language, version);
  }
}
