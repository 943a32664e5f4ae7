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
