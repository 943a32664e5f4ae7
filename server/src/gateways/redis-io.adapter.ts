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
    // engine.io keeps the first HTTP request of every connection (its headers, and with
    // long-polling its keep-alive socket) for the connection's lifetime; nothing here reads it
    // (the handshake's auth travels in the CONNECT packet), so drop it ("Memory usage",
    // socket.io docs).
    server.engine.on('connection', (raw: { request: unknown }) => {
      raw.request = null;
    });
    return server;
  }
}
