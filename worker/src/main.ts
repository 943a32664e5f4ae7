import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { JsonLogger } from '@coderoom/platform';
import { loadWorkerConfig, type WorkerConfig } from './config/config.js';
import { WorkerModule } from './worker.module.js';

async function bootstrap(config: WorkerConfig): Promise<void> {
  const app = await NestFactory.create(WorkerModule.forRoot(config), { bufferLogs: true });
  app.useLogger(new JsonLogger('worker'));
  app.enableShutdownHooks();
  await app.listen(config.httpPort, config.httpHost);
  const server = app.getHttpServer() as { address(): AddressInfo };
  const port = server.address().port;
  new Logger('Worker').log({
    msg: `worker ${config.workerId} ready (concurrency ${config.concurrency}, http port ${port})`,
    workerId: config.workerId,
    httpPort: port,
  });
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
