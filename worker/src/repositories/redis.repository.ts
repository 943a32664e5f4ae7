import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Emitter } from '@socket.io/redis-emitter';
import { redisKeys, type InterServerEvents, type RunFeedEvent } from '@coderoom/contracts';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';

/**
 * The worker's Redis: one connection for commands and feed publishing (one connection keeps
 * log writes and feed messages in order), one subscribed to cancel requests.
 */
@Injectable()
export class RedisRepository implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisRepository.name);
  readonly client: Redis;
  private readonly sub: Redis;
  private readonly emitter: Emitter;
  private readonly cancelListeners = new Map<string, () => void>();

  constructor(@Inject(WORKER_CONFIG) readonly config: WorkerConfig) {
    this.client = this.connect('commands');
    this.sub = this.connect('cancel-sub');
    this.emitter = new Emitter(this.client);
    this.sub.on('message', (_channel: string, runId: string) =>
      this.cancelListeners.get(runId)?.(),
    );
    void this.sub.subscribe(redisKeys.cancelChannel).catch((err: Error) => {
      this.logger.error(`cannot subscribe to cancel requests: ${err.message}`);
    });
  }

  private connect(role: string): Redis {
    const client = new Redis(this.config.redisUrl, {
      maxRetriesPerRequest: null,
      connectionName: `coderoom-worker-${role}`,
    });
    client.on('error', (err: Error) => this.logger.warn(`redis (${role}): ${err.message}`));
    return client;
  }

  /** Sends one feed event to every gateway node (socket.io server-side emit). */
  publish(e: RunFeedEvent): void {
    const event: keyof InterServerEvents = 'run:feed';
    this.emitter.serverSideEmit(event, e);
  }

  onCancel(runId: string, listener: () => void): () => void {
    this.cancelListeners.set(runId, listener);
    return () => this.cancelListeners.delete(runId);
  }

  async cancelRequested(runId: string): Promise<boolean> {
    return (await this.client.exists(redisKeys.cancel(runId))) === 1;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.client.quit(), this.sub.quit()]);
  }
}
