import type { Redis } from 'ioredis';

export type RedisScript<R> = (...keysAndArgs: (string | number)[]) => Promise<R>;

/**
 * A Lua script called by its SHA1 (EVALSHA) rather than sent whole with every call (EVAL);
 * ioredis loads it on first use and again after a Redis restart. Without `numberOfKeys` the
 * first argument of each call is the number of keys.
 */
export function defineScript<R>(
  client: Redis,
  name: string,
  lua: string,
  numberOfKeys?: number,
): RedisScript<R> {
  client.defineCommand(name, { lua, numberOfKeys });
  const commands = client as unknown as Record<string, RedisScript<R>>;
  return (...keysAndArgs) => commands[name].apply(client, keysAndArgs);
}
