import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { haproxyConfig } from '../../deploy/local/haproxy.mjs';
import type {
  ClientToServerEvents,
  OutputChunk,
  Role,
  RunFinishedEvent,
  RunStartPayload,
  RunStartResult,
  RunStatusEvent,
  ServerToClientEvents,
  Ack,
} from '@coderoom/contracts';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface StackOptions {
  /** Names this test's Redis database and MongoDB database, so test files do not meet. */
  name: string;
  redisDb: number;
  /** Gateway nodes to start (default 1); they share Redis, like nodes behind a balancer. */
  gateways?: number;
  /**
   * Put HAProxy in front of the gateways, with cookie-based sticky sessions and health checks
   * (what an AWS ALB does); `url` is then the balancer's.
   */
  balancer?: boolean;
  gatewayEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
}

/** How a process ended. Nest re-raises SIGTERM after its shutdown hooks: signal SIGTERM. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Stack {
  url: string;
  /** One URL per gateway node; `url` is the first. */
  urls: string[];
  /** Kills gateway node `i` with SIGKILL (a crash, not a shutdown). */
  killGateway(i: number): Promise<void>;
  /** Sends `signal` to gateway node `i` and waits for it to exit. */
  stopGateway(i: number, signal: NodeJS.Signals): Promise<ExitStatus>;
  /** pid of the (current) worker process. */
  workerPid(): number;
  /** URL of the worker's HTTP port (/health, /ready, /metrics). */
  workerUrl(): string;
  /** Sends `signal` to the worker and waits for it to exit. */
  stopWorker(signal: NodeJS.Signals): Promise<ExitStatus>;
  /** Starts a worker again (same WORKER_ID), e.g. after stopWorker. */
  startWorker(): Promise<void>;
  redisUrl: string;
  mongoUri: string;
  token(name: string, role?: Role): Promise<string>;
  connect(
    token: string,
    opts?: { transports?: string[]; url?: string; reconnection?: boolean },
  ): Promise<ClientSocket>;
  logs(): string;
  stop(): Promise<void>;
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) {
    throw new Error(
      `${name} is not set: run the tests with "npm test", or start the services with ` +
        '"node deploy/local/stack.mjs infra" and export what it prints',
    );
  }
  return v;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Thrown by an `until` check to give up at once. */
export class Fatal extends Error {}

/** Polls `check` until it returns true or the deadline passes (no fixed sleeps). */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a real gateway and a real worker, as separate processes, on the real services. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const base = new URL(required('REDIS_URL'));
  base.pathname = `/${opts.redisDb}`;
  const redisUrl = base.toString();
  const mongo = new URL(required('MONGODB_URI'));
  mongo.pathname = `/coderoom-test-${opts.name}`;
  const mongoUri = mongo.toString();

  const redis = new Redis(redisUrl);
  await redis.flushdb(); // a clean queue and replay log for this file
  await redis.quit();

  const ports: number[] = [];
  for (let i = 0; i < (opts.gateways ?? 1); i++) ports.push(await freePort());
  const common = {
    ...process.env,
    REDIS_URL: redisUrl,
    MONGODB_URI: mongoUri,
    JWT_SECRET: TEST_JWT_SECRET,
    NO_COLOR: '1',
  };
  const out: string[] = [];
  const children: ChildProcess[] = [];
  const launch = (
    label: string,
    script: string,
    env: Record<string, string | undefined>,
    args?: string[],
  ) => {
    const [cmd, argv] = args ? [script, args] : [process.execPath, [script]];
    const child = spawn(cmd, argv, {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = (b: Buffer) =>
      out.push(
        ...b
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => `[${label}] ${l}`),
      );
    child.stdout?.on('data', log);
    child.stderr?.on('data', log);
    children.push(child);
    return child;
  };
  const gateways = ports.map((port, i) =>
    launch(ports.length > 1 ? `gateway-${i}` : 'gateway', 'server/dist/src/main.js', {
      ...common,
      PORT: String(port),
      HOST: '127.0.0.1',
      DEV_TOKENS: 'true',
      ...opts.gatewayEnv,
    }),
  );
  const workerEnv = {
    ...common,
    WORKER_ID: `test-${opts.name}`,
    WORKER_HTTP_PORT: '0',
    WORKER_HTTP_HOST: '127.0.0.1',
    // Off unless a test turns it on: cold sandboxes carry their run's label, which the tests
    // use to check that every sandbox is removed. warm-pool.e2e.spec.ts covers the pool.
    WARM_POOL_SIZE: '0',
    ...opts.workerEnv,
  };
  let worker = launch('worker', 'worker/dist/src/main.js', workerEnv);
  let workerReadyLines = 0;
  const workerReady = () =>
    out.filter((l) => l.startsWith('[worker]') && l.includes(' ready ')).length > workerReadyLines;
  const exitOf = (c: ChildProcess, signal: NodeJS.Signals) =>
    new Promise<ExitStatus>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) {
        return resolve({ code: c.exitCode, signal: c.signalCode });
      }
      c.once('exit', (code, sig) => resolve({ code, signal: sig }));
      c.kill(signal);
    });
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  let url = urls[0];
  if (opts.balancer) {
    const lbPort = await freePort();
    const cfg = join(mkdtempSync(join(tmpdir(), 'coderoom-lb-')), 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig(lbPort, ports));
    launch('haproxy', '/usr/sbin/haproxy', { ...process.env }, ['-db', '-f', cfg]);
    url = `http://127.0.0.1:${lbPort}`;
  }
  const sockets: ClientSocket[] = [];
  const stack: Stack = {
    url,
    urls,
    stopGateway: (i, signal) => exitOf(gateways[i], signal),
    workerPid: () => worker.pid!,
    workerUrl() {
      const ready = out.filter((l) => l.startsWith('[worker]') && l.includes('"httpPort"')).pop();
      const port = ready
        ? (JSON.parse(ready.slice('[worker] '.length)) as { httpPort: number }).httpPort
        : 0;
      return `http://127.0.0.1:${port}`;
    },
    stopWorker: (signal) => exitOf(worker, signal),
    async startWorker() {
      workerReadyLines = out.filter(
        (l) => l.startsWith('[worker]') && l.includes(' ready '),
      ).length;
      worker = launch('worker', 'worker/dist/src/main.js', workerEnv);
      await until('the restarted worker to be ready', workerReady);
    },
    async killGateway(i) {
      const g = gateways[i];
      if (g.exitCode !== null || g.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        g.once('exit', () => resolve());
        g.kill('SIGKILL');
      });
    },
    redisUrl,
    mongoUri,
    logs: () => out.join('\n'),
    async token(name, role = 'student') {
      const res = await fetch(`${url}/api/auth/dev-token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, role }),
      });
      if (!res.ok) throw new Error(`dev-token: HTTP ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
    async connect(token, o = {}) {
      const s: ClientSocket = io(o.url ?? url, {
        auth: { token },
        transports: o.transports ?? ['websocket'],
        reconnection: o.reconnection ?? false,
        forceNew: true,
      });
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('connect_error', reject);
      });
      return s;
    },
    async stop() {
      sockets.forEach((s) => s.disconnect());
      await Promise.all(
        [...new Set([...children, worker])].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
              c.once('exit', () => {
                clearTimeout(t);
                resolve();
              });
              c.kill('SIGTERM');
            }),
        ),
      );
    },
  };
  try {
    for (const u of opts.balancer ? [...urls, url] : urls) {
      await until(`the gateway at ${u} to answer /health`, async () => {
        if (gateways.some((g) => g.exitCode !== null))
          throw new Fatal('a gateway exited during start-up');
        return (await fetch(`${u}/health`)).ok;
      });
    }
    await until('the worker to be ready', () =>
      out.some((l) => l.startsWith('[worker]') && l.includes(' ready ')),
    );
    for (const c of [...gateways, worker]) {
      if (c.exitCode !== null) throw new Error(`a process exited during start-up`);
    }
  } catch (err) {
    await stack.stop();
    throw new Error(`${(err as Error).message}\n${stack.logs()}`);
  }
  return stack;
}

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef';

export interface RunRecord {
  ack: Ack<RunStartResult>;
  runId: string;
  statuses: RunStatusEvent[];
  outputs: OutputChunk[];
  /** Date.now() when each output arrived, same order as `outputs`. */
  arrivals: number[];
  finished: RunFinishedEvent;
  startedAt: number;
  finishedAt: number;
}

/** Starts a run and collects everything the socket receives for it until `run:finished`. */
export async function runToEnd(
  s: ClientSocket,
  payload: RunStartPayload,
  ms = 30_000,
): Promise<RunRecord> {
  const rec = await startRun(s, payload);
  return rec.done(ms);
}

export interface StartedRun {
  ack: Ack<RunStartResult>;
  runId: string;
  outputs: OutputChunk[];
  done(ms?: number): Promise<RunRecord>;
}

export async function startRun(s: ClientSocket, payload: RunStartPayload): Promise<StartedRun> {
  const startedAt = Date.now();
  const statuses: RunStatusEvent[] = [];
  const outputs: OutputChunk[] = [];
  const arrivals: number[] = [];
  let finished: RunFinishedEvent | null = null;
  let runId: string | null = null;
  const pending: {
    statuses: RunStatusEvent[];
    outputs: OutputChunk[];
    finished: RunFinishedEvent[];
  } = {
    statuses: [],
    outputs: [],
    finished: [],
  };
  const onStatus = (e: RunStatusEvent) =>
    runId === null ? pending.statuses.push(e) : e.runId === runId && statuses.push(e);
  const onOutput = (e: OutputChunk) => {
    if (runId === null) pending.outputs.push(e);
    else if (e.runId === runId) {
      outputs.push(e);
      arrivals.push(Date.now());
    }
  };
  const onFinished = (e: RunFinishedEvent) => {
    if (runId === null) pending.finished.push(e);
    else if (e.runId === runId) finished = e;
  };
  s.on('run:status', onStatus);
  s.on('run:output', onOutput);
  s.on('run:finished', onFinished);
  const ack = await s.timeout(10_000).emitWithAck('run:start', payload);
  if (!ack.ok) {
    s.off('run:status', onStatus);
    s.off('run:output', onOutput);
    s.off('run:finished', onFinished);
    return {
      ack,
      runId: '',
      outputs,
      done: () => Promise.reject(new Error(`run:start refused: ${JSON.stringify(ack)}`)),
    };
  }
  runId = ack.runId;
  statuses.push(...pending.statuses.filter((e) => e.runId === runId));
  for (const e of pending.outputs.filter((o) => o.runId === runId)) {
    outputs.push(e);
    arrivals.push(Date.now());
  }
  finished = pending.finished.find((e) => e.runId === runId) ?? null;
  const id: string = ack.runId;
  return {
    ack,
    runId: id,
    outputs,
    async done(ms = 30_000) {
      await until(`run:finished for ${id}`, () => finished !== null, ms);
      s.off('run:status', onStatus);
      s.off('run:output', onOutput);
      s.off('run:finished', onFinished);
      const end = finished;
      if (!end) throw new Error('unreachable: run:finished missing');
      return {
        ack,
        runId: id,
        statuses,
        outputs,
        arrivals,
        finished: end,
        startedAt,
        finishedAt: Date.now(),
      };
    },
  };
}

/** Ids of the containers (running or not) carrying a Docker label, e.g. `coderoom.run=<id>`. */
export const containersWith = (label: string): string =>
  execFileSync('docker', ['ps', '-aq', '--filter', `label=${label}`])
    .toString()
    .trim();

/** The containers of one run (cold sandboxes carry their run's label). */
export const containersOf = (runId: string): string => containersWith(`coderoom.run=${runId}`);

export const text = (chunks: OutputChunk[], stream?: OutputChunk['stream']): string =>
  chunks
    .filter((c) => !stream || c.stream === stream)
    .map((c) => c.data)
    .join('');
