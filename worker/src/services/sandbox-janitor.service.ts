import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';
import { DockerRepository, LABEL_WORKER } from '../repositories/docker.repository.js';
import { LanguageRepository } from '../repositories/language.repository.js';

/**
 * Boot checks: Docker answers, every language's image exists, and sandboxes left by a previous
 * crash of this worker (same WORKER_ID) are removed.
 */
@Injectable()
export class SandboxJanitorService implements OnApplicationBootstrap {
  private readonly logger = new Logger(SandboxJanitorService.name);
  private markReady!: () => void;
  /**
   * Resolves once boot cleanup is done. BullMQ starts consuming at module init, earlier than
   * this runs, so runs wait for it: otherwise the cleanup could remove a brand-new sandbox.
   */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly docker: DockerRepository,
    private readonly languages: LanguageRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!(await this.docker.ping())) {
      throw new Error(`Docker does not answer on ${this.config.dockerSocket}`);
    }
    const images = new Set(
      this.languages.all().map((l) => `coderoom-sandbox-${l.image}:${this.config.imageTag}`),
    );
    for (const image of images) {
      if (!(await this.docker.imageExists(image))) {
        throw new Error(`sandbox image ${image} is missing: run node sandbox/build-images.mjs`);
      }
    }
    const removed = await this.docker.removeLabelled(`${LABEL_WORKER}=${this.config.workerId}`);
    if (removed > 0) this.logger.warn(`removed ${removed} orphaned sandbox container(s)`);
    this.markReady();
  }
}
