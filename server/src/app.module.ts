import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule } from '@nestjs/common';
import { RUN_QUEUE } from '@coderoom/contracts';
import { redisOptionsFromUrl } from '@coderoom/platform';
import { GATEWAY_CONFIG, type GatewayConfig } from './config/config.js';
import { AsyncApiController } from './controllers/asyncapi.controller.js';
import { DevAuthController } from './controllers/auth.controller.js';
import { HealthController } from './controllers/health.controller.js';
import { LanguagesController } from './controllers/languages.controller.js';
import { MetricsController, MetricsPort, MetricsScrape } from './controllers/metrics.controller.js';
import { RunsController } from './controllers/runs.controller.js';
import { RunEvents } from './gateways/run.events.js';
import { SessionEvents } from './gateways/session.events.js';
import { ProblemEvents } from './gateways/problem.events.js';
import { DocEvents } from './gateways/doc.events.js';
import { DashboardEvents } from './gateways/dashboard.events.js';
import { ClassroomController } from './controllers/classroom.controller.js';
import { ClassroomBusRepository } from './repositories/classroom-bus.repository.js';
import { DocRepository } from './repositories/doc.repository.js';
import { ProblemRepository } from './repositories/problem.repository.js';
import { SessionRepository } from './repositories/session.repository.js';
import { DashboardService } from './services/dashboard.service.js';
import { DocService } from './services/doc.service.js';
import { ProblemAccessService } from './services/problem-access.service.js';
import { ProblemService } from './services/problem.service.js';
import { ResultsService } from './services/results.service.js';
import { SessionService } from './services/session.service.js';
import type { EventFamily } from './gateways/client-event.js';
import { EVENT_FAMILIES, SocketGateway } from './gateways/socket.gateway.js';
import { AuthGuard } from './common/auth.guard.js';
import { ApiErrorFilter } from './controllers/error.filter.js';
import { APP_FILTER } from '@nestjs/core';
import { DatabaseRepository } from './repositories/database.repository.js';
import { WorkerReportsRepository } from './repositories/worker-reports.repository.js';
import { FeedBusRepository } from './repositories/feed-bus.repository.js';
import { LanguageRepository } from './repositories/language.repository.js';
import { MetricsRepository } from './repositories/metrics.repository.js';
import { QueueRepository } from './repositories/queue.repository.js';
import { QuotaRepository } from './repositories/quota.repository.js';
import { RedisRepository } from './repositories/redis.repository.js';
import { RunLogRepository } from './repositories/run-log.repository.js';
import { RunRepository } from './repositories/run.repository.js';
import { AuthService } from './services/auth.service.js';
import { HealthService } from './services/health.service.js';
import { LanguageService } from './services/language.service.js';
import { QueuePositionService } from './services/queue-position.service.js';
import { FAIL_FAST_RETRIES } from './repositories/redis.repository.js';
import { RunFeedService } from './services/run-feed.service.js';
import { RunService } from './services/run.service.js';
import { RunStoreService } from './services/run-store.service.js';

@Module({})
export class AppModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        BullModule.forRoot({
          // The gateway only adds jobs (no blocking worker connection): fail fast in an outage.
          connection: {
            ...redisOptionsFromUrl(config.redisUrl),
            maxRetriesPerRequest: FAIL_FAST_RETRIES,
          },
        }),
        BullModule.registerQueue({ name: RUN_QUEUE }),
      ],
      controllers: [
        HealthController,
        AsyncApiController,
        LanguagesController,
        MetricsController,
        RunsController,
        ClassroomController,
        // The dev-token route must not exist at all unless dev tokens are on (API.md).
        ...(config.devTokens ? [DevAuthController] : []),
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        RedisRepository,
        DatabaseRepository,
        RunRepository,
        RunLogRepository,
        QueueRepository,
        QuotaRepository,
        LanguageRepository,
        MetricsRepository,
        FeedBusRepository,
        WorkerReportsRepository,
        AuthService,
        HealthService,
        LanguageService,
        RunFeedService,
        QueuePositionService,
        RunStoreService,
        RunService,
        SessionRepository,
        ProblemRepository,
        DocRepository,
        ClassroomBusRepository,
        ProblemService,
        SessionService,
        ProblemAccessService,
        DashboardService,
        DocService,
        ResultsService,
        AuthGuard,
        MetricsScrape,
        MetricsPort,
        { provide: APP_FILTER, useClass: ApiErrorFilter },
        // One handler class per family of client events; SocketGateway wires them all.
        RunEvents,
        SessionEvents,
        ProblemEvents,
        DocEvents,
        DashboardEvents,
        {
          provide: EVENT_FAMILIES,
          useFactory: (...families: EventFamily[]) => families,
          inject: [RunEvents, SessionEvents, ProblemEvents, DocEvents, DashboardEvents],
        },
        SocketGateway,
      ],
    };
  }
}
