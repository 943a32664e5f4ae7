import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule } from '@nestjs/common';
import { RUN_QUEUE } from '@coderoom/contracts';
import { redisOptionsFromUrl } from '@coderoom/platform';
import { WORKER_CONFIG, type WorkerConfig } from './config/config.js';
import { HealthController } from './controllers/health.controller.js';
import { DockerWatchService } from './services/docker-watch.service.js';
import { RunProcessor } from './processors/run.processor.js';
import { MetricsRepository } from './repositories/metrics.repository.js';
import { HealthService } from './services/health.service.js';
import { DockerRepository } from './repositories/docker.repository.js';
import { LanguageRepository } from './repositories/language.repository.js';
import { RedisRepository } from './repositories/redis.repository.js';
import { RunFeedRepository } from './repositories/run-feed.repository.js';
import { RunRepository } from './repositories/run.repository.js';
import { LanguageImagesService } from './services/language-images.service.js';
import { RunExecutionService } from './services/run-execution.service.js';
import { RunReaperService } from './services/run-reaper.service.js';
import { StartupGateService } from './services/startup-gate.service.js';
import { SandboxJanitorService } from './services/sandbox-janitor.service.js';
import { SlotRepository } from './repositories/slot.repository.js';
import { SlotPoolService } from './services/slot-pool.service.js';
import { WarmPoolService } from './services/warm-pool.service.js';

@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        BullModule.forRoot({ connection: redisOptionsFromUrl(config.redisUrl) }),
        BullModule.registerQueue({ name: RUN_QUEUE }),
      ],
      controllers: [HealthController],
      providers: [
        MetricsRepository,
        HealthService,
        { provide: WORKER_CONFIG, useValue: config },
        DockerRepository,
        LanguageRepository,
        LanguageImagesService,
        RedisRepository,
        RunFeedRepository,
        RunRepository,
        StartupGateService,
        SandboxJanitorService,
        WarmPoolService,
        SlotRepository,
        SlotPoolService,
        RunExecutionService,
        RunReaperService,
        RunProcessor,
        DockerWatchService,
      ],
    };
  }
}
