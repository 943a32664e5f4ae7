import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadWorkerConfig, type WorkerConfig } from './config/config.js';
import { WorkerModule } from './worker.module.js';

async function bootstrap(config: WorkerConfig): Promise<void> {
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config));
  app.enableShutdownHooks();
  new Logger('Worker').log(`worker ${config.workerId} ready (concurrency ${config.concurrency})`);
}

let config: WorkerConfig;
try {
  config = loadWorkerConfig(process.env);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
bootstrap(config).catch((err: unknown) => {
  console.error('worker failed to start:', err);
  process.exit(1);
});
