import { Inject, Injectable } from '@nestjs/common';
import { LanguageCatalog } from '@coderoom/platform';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';

/** The installed languages (the shared LanguageCatalog, from LANGUAGES_DIR). */
@Injectable()
export class LanguageRepository extends LanguageCatalog {
  constructor(@Inject(WORKER_CONFIG) config: WorkerConfig) {
    super(config.languagesDir);
  }
}
