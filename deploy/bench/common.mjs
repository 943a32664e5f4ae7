// Small helpers shared by the benchmarks in this folder (latency.mjs, load.mjs).
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { launch } from '../local/launcher.mjs';
import { localSlotSockets } from '../local/service-args.mjs';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The number in environment variable `name` (`dflt` when unset); stops on anything but >= 0. */
export const num = (name, dflt) => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name}: not a number >= 0`);
  return v;
};

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** The p-th percentile (nearest rank) of xs; undefined for an empty list. */
export const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Polls url until it answers 2xx; false after timeoutMs. */
export async function waitHttp(url, timeoutMs = 30000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  return false;
}

/** A token from the gateway's dev-token route (DEV_TOKENS=true); the user id is `dev:<name>`. */
export async function devToken(url, name, role) {
  const res = await fetch(`${url}/api/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, role }),
  });
  if (!res.ok) throw new Error(`dev-token: HTTP ${res.status}`);
  return (await res.json()).token;
}

/** "2 cores (AMD EPYC ...), 24 GiB" */
export const machine = () =>
  `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;

/**
 * One gateway and one worker from server/dist and worker/dist on REDIS_URL's server (database
 * `db`) and MONGODB_URI, quotas out of the way, and a connected socket of user `bench`.
 * `env` adds to or overrides the services' environment; `onStderr` gets their stderr line by line
 * (else it is passed through).
 */
export async function startBenchStack({ db, workerId, env = {}, onStderr = null }) {
  const redis = new URL(process.env.REDIS_URL);
  redis.pathname = `/${db}`;
  const port = await freePort();
  const all = {
    ...process.env,
    REDIS_URL: redis.toString(),
    MONGODB_URI: process.env.MONGODB_URI,
    JWT_SECRET: 'bench-secret-0123456789abcdef',
    DEV_TOKENS: 'true',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    WORKER_ID: workerId,
    WORKER_HTTP_PORT: '0',
    RUN_WALL_MS: '20000',
    COMPILE_WALL_MS: '60000',
    RUN_QUOTAS: JSON.stringify({ student: { perMinute: 100000, perDay: 1000000, concurrent: 64 } }),
    BUSY_WAIT_MS: '600000',
    // One benchmark socket carries every concurrent run: the per-socket event limit (20/s by
    // default) would otherwise be what the throughput cells measure (22 runs/s on the slot tier).
    SOCKET_EVENTS_PER_SECOND: '100000',
    // As under `npm start`: slots' frames over their own sockets (BENCH: SANDBOX_SLOT_SOCKETS=
    // (empty) measures the attach stream instead).
    SANDBOX_SLOT_SOCKETS: localSlotSockets(),
    ...env,
  };
  const stderr = onStderr ?? ((line) => process.stderr.write(line));
  const procs = ['server', 'worker'].map((p) =>
    launch(p, process.execPath, [join(REPO, p, 'dist/src/main.js')], {
      env: all,
      onLine: (line, stream) => stream === 'stderr' && stderr(`${line}\n`),
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/health`);
  await sleep(1500); // let the worker finish booting
  const token = await devToken(url, 'bench', 'student');
  const socket = io(url, { auth: { token }, transports: ['websocket'] });
  await new Promise((r) => socket.once('connect', r));
  return {
    socket,
    stop: async () => {
      socket.disconnect();
      await Promise.all(procs.map((p) => p.stop({ graceMs: 30000 })));
    },
  };
}
