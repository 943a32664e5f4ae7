import { Inject, Injectable } from '@nestjs/common';
import { LanguageCatalog } from '@coderoom/platform';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';

/** The installed languages (the shared LanguageCatalog, from LANGUAGES_DIR). */
@Injectable()
export class LanguageRepository extends LanguageCatalog {
  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    super(config.languagesDir);
  }
}
