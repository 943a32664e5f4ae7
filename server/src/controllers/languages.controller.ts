import { Controller, Get } from '@nestjs/common';
import type { LanguageInfo } from '@coderoom/contracts';
import { RunService } from '../services/run.service.js';

@Controller('api/languages')
export class LanguagesController {
  constructor(private readonly runs: RunService) {}

  @Get()
  async list(): Promise<{ languages: LanguageInfo[] }> {
    return { languages: await this.runs.listLanguages() };
  }
}
