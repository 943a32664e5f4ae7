import { Inject, Injectable } from '@nestjs/common';
import type { LanguageDefinition } from '@coderoom/contracts';
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

  get(id: string): LanguageDefinition | undefined {
    return this.languages.get(id);
  }
}
