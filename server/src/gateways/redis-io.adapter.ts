import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Server, ServerOptions } from 'socket.io';
import { PAYLOAD_LIMITS } from '@coderoom/contracts';
import { RedisRepository } from '../repositories/redis.repository.js';

/** socket.io on the Redis adapter, so that every gateway node shares rooms and server-side emits. */
export class RedisIoAdapter extends IoAdapter {
  constructor(private readonly appContext: INestApplicationContext) {
    super(appContext);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const server = super.createIOServer(port, {
      ...options,
      path: '/socket.io',
      // Bounds one message (and one HTTP long-polling body): larger packets close the transport.
      maxHttpBufferSize: PAYLOAD_LIMITS.messageBytes,
      pingInterval: 10_000,
      pingTimeout: 5_000,
    } as ServerOptions);
    const redis = this.appContext.get(RedisRepository);
    server.adapter(createAdapter(redis.adapterPub, redis.adapterSub));
    return server;
  }
}
