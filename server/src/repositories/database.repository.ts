import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import mongoose, { type Connection } from 'mongoose';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';

/** The gateway's MongoDB connection (mongoose). */
@Injectable()
export class DatabaseRepository implements OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseRepository.name);
  readonly connection: Connection;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    this.connection = mongoose.createConnection(config.mongodbUri, {
      serverSelectionTimeoutMS: 5000,
    });
    this.connection.on('error', (err: Error) => this.logger.warn(`mongodb: ${err.message}`));
  }

  async ready(): Promise<void> {
    await this.connection.asPromise();
  }

  async ping(): Promise<boolean> {
    try {
      await this.connection.db?.admin().ping();
      return this.connection.readyState === mongoose.ConnectionStates.connected;
    } catch {
      return false;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.close();
  }
}
