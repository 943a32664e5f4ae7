import { Injectable } from '@nestjs/common';
import {
  CoderoomError,
  languageInfos,
  type LanguageDefinition,
  type LanguageInfo,
} from '@coderoom/contracts';
import { LanguageRepository } from '../repositories/language.repository.js';
import { WorkerReportsRepository } from '../repositories/worker-reports.repository.js';

/**
 * The languages users may pick: those installed (LANGUAGES_DIR) whose sandbox image some live
 * worker has (each worker publishes the ones it found, WorkerReportsRepository). A language
 * whose image is not built anywhere is left out of `languages:list` and refused at once with
 * UNSUPPORTED_LANGUAGE, rather than queued to fail later. Before any worker has reported, every
 * installed language counts as available (its runs wait in the queue).
 */
@Injectable()
export class LanguageService {
  constructor(
    private readonly catalog: LanguageRepository,
    private readonly workers: WorkerReportsRepository,
  ) {}

  /** `languages:list`: the available languages, with the limits the workers apply. */
  async list(): Promise<LanguageInfo[]> {
    const { limits, languages } = await this.workers.current();
    return languageInfos(this.catalog.runnable(languages), limits);
  }

  /** The definition that runs `{ language, version }` (default: its default version). */
  async require(id: string, version?: string): Promise<LanguageDefinition> {
    const { languages: built } = await this.workers.current();
    const language = this.catalog.resolve(id, version);
    const what = version ? `"${id}" version "${version}"` : `"${id}"`;
    const supported = this.catalog
      .runnable(built)
      .filter((l) => !l.versionOf)
      .map((l) => l.id);
    if (!language) {
      throw new CoderoomError('UNSUPPORTED_LANGUAGE', `unsupported language ${what}`, {
        details: { supported },
      });
    }
    if (built && !built.has(language.id)) throw notBuilt(what, supported);
    return language;
  }

  /** Every id (a language's or another version's, as problems name them) is available. */
  async requireIds(ids: readonly string[]): Promise<void> {
    const { languages: built } = await this.workers.current();
    const supported = this.catalog.runnable(built).map((l) => l.id);
    const unknown = ids.find((id) => !this.catalog.get(id));
    if (unknown !== undefined) {
      throw new CoderoomError('UNSUPPORTED_LANGUAGE', `unsupported language "${unknown}"`, {
        details: { supported },
      });
    }
    const unbuilt = ids.find((id) => built && !built.has(id));
    if (unbuilt !== undefined) throw notBuilt(`"${unbuilt}"`, supported);
  }
}

function notBuilt(what: string, supported: string[]): CoderoomError {
  return new CoderoomError(
    'UNSUPPORTED_LANGUAGE',
    `language ${what} is not available: its sandbox image is not built on any running worker`,
    { details: { supported, reason: 'image-not-built' } },
  );
}
