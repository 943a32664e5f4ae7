import { Inject, Injectable } from '@nestjs/common';
import type { LanguageDefinition } from '@coderoom/contracts';
import { loadLanguages } from '@coderoom/contracts/node';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';

@Injectable()
export class LanguageRepository {
  private readonly languages: Map<string, LanguageDefinition>;

  constructor(@Inject(WORKER_CONFIG) config: WorkerConfig) {
    this.languages = loadLanguages(config.languagesDir);
  }

  all(): LanguageDefinition[] {
    return [...this.languages.values()];
  }

  get(id: string): LanguageDefinition | undefined {
    return this.languages.get(id);
  }
}
