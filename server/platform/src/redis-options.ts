/**
 * ioredis connection options from a `redis://` or `rediss://` URL (BullMQ wants options, not a
 * URL). `maxRetriesPerRequest: null` is what BullMQ requires for its blocking connections.
 */
export function redisOptionsFromUrl(url: string): {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls?: object;
  maxRetriesPerRequest: null;
} {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new Error(`REDIS_URL must start with redis:// or rediss://, got ${u.protocol}`);
  }
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * Options for a connection that subscribes (pub/sub). On connect, ioredis 5 sends
 * `CLIENT SETINFO` after an asynchronous read of its own package.json, and the ready check
 * (`INFO`): either can reach Redis after the first (P)SUBSCRIBE, which Redis refuses on a
 * subscribed connection, and the subscription is then lost (ioredis issue #2037; seen here as a
 * gateway deaf to every run's output, and as a worker that never heard an interactive run's
 * input). A subscriber needs neither.
 */
export const SUBSCRIBER_OPTIONS = { enableReadyCheck: false, disableClientInfo: true } as const;
