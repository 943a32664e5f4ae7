import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Connection } from 'mongoose';
import { connectMongo, pingMongo } from '@coderoom/platform';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';

/** The gateway's MongoDB connection (mongoose), opened the way both apps open it. */
@Injectable()
export class DatabaseRepository implements OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseRepository.name);
  readonly connection: Connection;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    this.connection = connectMongo(config.mongodbUri, (m) => this.logger.warn(m));
  }

  async ready(): Promise<void> {
    await this.connection.asPromise();
  }

  ping(): Promise<boolean> {
    return pingMongo(this.connection);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.close();
  }
}
