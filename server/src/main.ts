import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { PAYLOAD_LIMITS } from '@coderoom/contracts';
import { JsonLogger } from '@coderoom/platform';
import { AppModule } from './app.module.js';
import { loadGatewayConfig, type GatewayConfig } from './config/config.js';
import { RedisIoAdapter } from './gateways/redis-io.adapter.js';
import { RedisRepository } from './repositories/redis.repository.js';

async function bootstrap(config: GatewayConfig): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(new JsonLogger('gateway'));
  app.useBodyParser('json', { limit: PAYLOAD_LIMITS.messageBytes });
  app.useWebSocketAdapter(new RedisIoAdapter(app));
  app.enableShutdownHooks();
  if (config.staticDir) {
    if (!existsSync(join(config.staticDir, 'index.html'))) {
      throw new Error(`STATIC_DIR ${config.staticDir} has no index.html (build the client first)`);
    }
    app.useStaticAssets(config.staticDir, { index: 'index.html' });
  }
  // The socket.io adapter subscribes as the server starts: on connections that are up.
  await app.get(RedisRepository).connected();
  await app.listen(config.port, config.host);
  new Logger('Gateway').log(`listening on http://${config.host}:${config.port}`);
}

let config: GatewayConfig;
try {
  config = loadGatewayConfig(process.env);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
bootstrap(config).catch((err: unknown) => {
  console.error('gateway failed to start:', err);
  process.exit(1);
});
