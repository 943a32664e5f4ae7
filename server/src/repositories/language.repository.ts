import { Inject, Injectable } from '@nestjs/common';
import { resolveLanguage, type LanguageDefinition } from '@coderoom/contracts';
import { loadLanguages } from '@coderoom/contracts/node';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';

/** Language definitions from sandbox/languages/<id>/language.json, read once at boot. */
@Injectable()
export class LanguageRepository {
  private readonly languages: Map<string, LanguageDefinition>;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    this.languages = loadLanguages(config.languagesDir);
  }

  all(): LanguageDefinition[] {
    return [...this.languages.values()];
  }

  /** The languages as `languages:list` names them (without their other versions). */
  listed(): LanguageDefinition[] {
    return this.all().filter((l) => !l.versionOf);
  }

  get(id: string): LanguageDefinition | undefined {
    return this.languages.get(id);
  }

  /** The definition that runs `{ language, version }` (`resolveLanguage`), or null. */
  resolve(language: string, version?: string): LanguageDefinition | null {
    return resolveLanguage(this.languages, language, version);
  }
}
