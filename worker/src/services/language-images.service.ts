import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { LanguageDefinition } from '@coderoom/contracts';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';
import { DockerRepository } from '../repositories/docker.repository.js';
import { LanguageRepository } from '../repositories/language.repository.js';

/** The image a language's sandboxes are created from. */
export function sandboxImage(
  config: Pick<WorkerConfig, 'imageTag'>,
  l: LanguageDefinition,
): string {
  return `coderoom-sandbox-${l.image}:${config.imageTag}`;
}

/**
 * Which installed languages this worker can run: those whose sandbox image
 * (`coderoom-sandbox-<image>:<SANDBOX_IMAGE_TAG>`) exists on its Docker engine. A missing image
 * does not stop the worker: it serves the languages it has, publishes them with its heartbeat
 * (RunReaperService, for the gateways' `languages:list` and admission) and looks again every
 * SANDBOX_IMAGE_SCAN_MS, so an image built (or removed) later is picked up. While Docker does
 * not answer, the last scan stands: an engine that is away is not an engine without images.
 */
@Injectable()
export class LanguageImagesService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LanguageImagesService.name);
  /** Ids of the installed languages whose image was found by the last scan that succeeded. */
  private available = new Set<string>();
  private scanned = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly docker: DockerRepository,
    private readonly languages: LanguageRepository,
  ) {}

  /** Before any hook that announces or runs (onApplicationBootstrap): the first scan. */
  async onModuleInit(): Promise<void> {
    await this.scan().catch((err: Error) =>
      // The janitor's boot check stops start-up with a clear message when Docker is away.
      this.logger.error(`cannot list the sandbox images: ${err.message}`),
    );
    this.timer = setInterval(() => {
      this.scan().catch((err: Error) =>
        this.logger.warn(`cannot list the sandbox images (keeping the last list): ${err.message}`),
      );
    }, this.config.imageScanMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Whether this worker can run the language (its image was there at the last scan). */
  has(id: string): boolean {
    return this.available.has(id);
  }

  /** The ids this worker can run, sorted (published with the heartbeat). */
  ids(): string[] {
    return [...this.available].sort();
  }

  /** Looks for every installed language's image; logs what appeared and what went missing. */
  async scan(): Promise<void> {
    const names = await this.docker.imageNames();
    const next = new Set(
      this.languages
        .all()
        .filter((l) => names.has(sandboxImage(this.config, l)))
        .map((l) => l.id),
    );
    const missing = this.languages.all().filter((l) => !next.has(l.id));
    const gone = [...this.available].filter((id) => !next.has(id));
    const added = [...next].filter((id) => !this.available.has(id));
    if (!this.scanned) {
      if (missing.length > 0) {
        this.logger.warn(
          `not offering ${missing.length} installed language(s) whose image is not built: ` +
            missing.map((l) => `${l.id} (${sandboxImage(this.config, l)})`).join(', ') +
            ' (build them with node sandbox/build-images.mjs; looked for again every ' +
            `${this.config.imageScanMs} ms)`,
        );
      }
      if (next.size === 0) this.logger.error('no sandbox image is built: every run is refused');
    } else {
      if (added.length > 0) this.logger.log(`images found, now offering: ${added.join(', ')}`);
      if (gone.length > 0) this.logger.warn(`images gone, no longer offering: ${gone.join(', ')}`);
    }
    this.available = next;
    this.scanned = true;
  }
}
