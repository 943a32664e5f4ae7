import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { haproxyConfig, haproxyServerStatus } from '../../deploy/local/haproxy.mjs';
import { launch as launchProc, type Proc } from '../../deploy/local/launcher.mjs';
import { ferretdbArgs, localSlotSockets, redisArgs } from '../../deploy/local/service-args.mjs';
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
  /** Worker processes to start (default 1), each with its own WORKER_ID. */
  workers?: number;
  /**
   * Start a Redis server of this stack's own (instead of a database on the shared one), so the
   * test can restart it (`restartRedis`). It keeps an append-only file (fsync every second),
   * like the stack's Redis: a restart keeps the queue and the live states.
   */
  ownRedis?: boolean;
  /** Start a FerretDB of this stack's own, so the test can restart it (`restartDatabase`). */
  ownDatabase?: boolean;
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
  /** Starts gateway node `i` again on its port (after stopGateway/killGateway). */
  startGateway(i: number): Promise<void>;
  /** pid of the (current) worker process `i` (default 0). */
  workerPid(i?: number): number;
  /** URL of worker `i`'s HTTP port (/health, /ready, /metrics). */
  workerUrl(i?: number): string;
  /** Sends `signal` to worker `i` and waits for it to exit. */
  stopWorker(signal: NodeJS.Signals, i?: number): Promise<ExitStatus>;
  /** Starts worker `i` again (same WORKER_ID), e.g. after stopWorker. */
  startWorker(i?: number): Promise<void>;
  /**
   * Stops this stack's own Redis (`ownRedis`) and starts it again on the same port and
   * append-only file. `how`: `stop` (SIGTERM, the default: nothing is lost) or `crash`
   * (SIGKILL: the writes of the last second may be lost).
   */
  restartRedis(downMs?: number, how?: 'stop' | 'crash'): Promise<void>;
  /** Kills this stack's own FerretDB (`ownDatabase`) and starts it again on its data. */
  restartDatabase(downMs?: number): Promise<void>;
  redisUrl: string;
  mongoUri: string;
  token(name: string, role?: Role): Promise<string>;
  connect(
    token: string,
    opts?: {
      transports?: string[];
      url?: string;
      reconnection?: boolean;
      /** Keep cookies (Node's cookie jar): long-polling through the balancer needs its sticky cookie. */
      withCredentials?: boolean;
    },
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

/** Sends `signal` to a child and waits for it; resolves at once if it already ended. */
async function exitOf(p: Proc, signal: NodeJS.Signals): Promise<ExitStatus> {
  if (!p.done) {
    p.send(signal);
    await p.exited;
  }
  return { code: p.code, signal: p.signal };
}

/** The FerretDB binary the stack builds (deploy/local/ferretdb.mjs), or one on PATH. */
function ferretdbBinary(): string {
  const local = join(REPO, '.local', 'bin', 'ferretdb');
  if (existsSync(local)) return local;
  try {
    return execFileSync('sh', ['-c', 'command -v ferretdb']).toString().trim();
  } catch {
    throw new Error('ownDatabase needs FerretDB: run "node deploy/local/stack.mjs infra" once');
  }
}

/**
 * Longest start of a gateway or worker: a few seconds alone, but this machine's two cores are
 * shared with other suites and builds, where 30 s was seen to run out.
 */
const START_MS = 60_000;

/** Starts a real gateway and a real worker, as separate processes, on the real services. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const out: string[] = [];
  const children: Proc[] = [];
  // Not in process groups of their own: a Ctrl-C of jest reaches them too.
  const launch = (
    label: string,
    script: string,
    env: Record<string, string | undefined>,
    args?: string[],
  ) => {
    const [cmd, argv] = args ? [script, args] : [process.execPath, [script]];
    const child = launchProc(label, cmd, argv, {
      cwd: REPO,
      env,
      onLine: (line) => line && out.push(`[${label}] ${line}`),
    });
    children.push(child);
    return child;
  };

  // Services of our own, when the test wants to restart them.
  let redisProc: Proc | null = null;
  let redisPort = 0;
  const launchRedis = async () => {
    redisProc = launch('redis', 'redis-server', {}, redisArgs(redisPort, redisDir));
    await until('our Redis to answer', async () => {
      const r = new Redis(redisPort, '127.0.0.1', {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      r.on('error', () => undefined);
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    });
  };
  // An append-only file, as the stack's Redis keeps: a restart keeps the queue (`restartRedis`).
  const redisDir = opts.ownRedis ? mkdtempSync(join(tmpdir(), 'coderoom-redis-')) : '';
  let base: URL;
  if (opts.ownRedis) {
    redisPort = await freePort();
    await launchRedis();
    base = new URL(`redis://127.0.0.1:${redisPort}`);
  } else {
    base = new URL(required('REDIS_URL'));
  }
  base.pathname = `/${opts.redisDb}`;
  const redisUrl = base.toString();

  let mongoProc: Proc | null = null;
  let mongoPort = 0;
  const ferretDir = opts.ownDatabase ? mkdtempSync(join(tmpdir(), 'coderoom-ferretdb-')) : '';
  const launchDatabase = async () => {
    mongoProc = launch(
      'ferretdb',
      ferretdbBinary(),
      {},
      ferretdbArgs(mongoPort, ferretDir, ferretDir),
    );
    await until('our FerretDB to listen', () => portOpen(mongoPort));
  };
  let mongo: URL;
  if (opts.ownDatabase) {
    mongoPort = await freePort();
    await launchDatabase();
    mongo = new URL(`mongodb://127.0.0.1:${mongoPort}/`);
  } else {
    mongo = new URL(required('MONGODB_URI'));
  }
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
  const gatewayLabel = (i: number) => (ports.length > 1 ? `gateway-${i}` : 'gateway');
  const launchGateway = (i: number) =>
    launch(gatewayLabel(i), 'server/dist/src/main.js', {
      ...common,
      PORT: String(ports[i]),
      HOST: '127.0.0.1',
      DEV_TOKENS: 'true',
      METRICS_TOKEN: TEST_METRICS_TOKEN,
      ...opts.gatewayEnv,
    });
  const gateways = ports.map((_, i) => launchGateway(i));
  const workerCount = opts.workers ?? 1;
  const workerLabel = (i: number) => (i === 0 ? 'worker' : `worker-${i}`);
  const workerEnvOf = (i: number) => ({
    ...common,
    WORKER_ID: i === 0 ? `test-${opts.name}` : `test-${opts.name}-${i}`,
    WORKER_HTTP_PORT: '0',
    WORKER_HTTP_HOST: '127.0.0.1',
    // Off unless a test turns it on: cold sandboxes carry their run's label, which the tests
    // use to check that every sandbox is removed. warm-pool.e2e.spec.ts covers the pool.
    WARM_POOL_SIZE: '0',
    // Slots' frames over their own sockets, as under `npm start` (deploy/local/app.mjs).
    SANDBOX_SLOT_SOCKETS: localSlotSockets(),
    ...opts.workerEnv,
  });
  const workerLines = (i: number, what: string) =>
    out.filter((l) => l.startsWith(`[${workerLabel(i)}] `) && l.includes(what));
  const launchWorker = (i: number) =>
    launch(workerLabel(i), 'worker/dist/src/main.js', workerEnvOf(i));
  const workers = Array.from({ length: workerCount }, (_, i) => launchWorker(i));
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  let url = urls[0];
  let lbDir = '';
  if (opts.balancer) {
    const lbPort = await freePort();
    lbDir = mkdtempSync(join(tmpdir(), 'coderoom-lb-'));
    const cfg = join(lbDir, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig(lbPort, ports, { adminSocket: join(lbDir, 'admin.sock') }));
    launch('haproxy', '/usr/sbin/haproxy', { ...process.env }, ['-db', '-f', cfg]);
    url = `http://127.0.0.1:${lbPort}`;
  }
  // Ready, not just alive: its stores answer and the run feed reaches it.
  const gatewayHealthy = (i: number) =>
    until(
      `the gateway at ${urls[i]} to answer /ready`,
      async () => {
        if (gateways[i].done) throw new Fatal(`gateway ${i} exited during start-up`);
        return (await fetch(`${urls[i]}/ready`)).ok;
      },
      START_MS,
    );
  const sockets: ClientSocket[] = [];
  const stack: Stack = {
    url,
    urls,
    stopGateway: (i, signal) => exitOf(gateways[i], signal),
    async startGateway(i) {
      if (!gateways[i].done) throw new Error(`gateway ${i} runs`);
      gateways[i] = launchGateway(i);
      await gatewayHealthy(i);
    },
    workerPid: (i = 0) => workers[i].pid!,
    workerUrl(i = 0) {
      const ready = workerLines(i, '"httpPort"').pop();
      const port = ready
        ? (JSON.parse(ready.slice(ready.indexOf(' ') + 1)) as { httpPort: number }).httpPort
        : 0;
      return `http://127.0.0.1:${port}`;
    },
    stopWorker: (signal, i = 0) => exitOf(workers[i], signal),
    async startWorker(i = 0) {
      const before = workerLines(i, ' ready ').length;
      workers[i] = launchWorker(i);
      await until(
        `the restarted worker ${i} to be ready`,
        () => workerLines(i, ' ready ').length > before,
        START_MS,
      );
    },
    async restartRedis(downMs = 500, how = 'stop') {
      if (!redisProc) throw new Error('restartRedis needs ownRedis: true');
      await exitOf(redisProc, how === 'crash' ? 'SIGKILL' : 'SIGTERM');
      await new Promise((r) => setTimeout(r, downMs));
      await launchRedis();
    },
    async restartDatabase(downMs = 500) {
      if (!mongoProc) throw new Error('restartDatabase needs ownDatabase: true');
      // A crash: FerretDB's graceful stop waits for its clients, which keep it serving.
      await exitOf(mongoProc, 'SIGKILL');
      await new Promise((r) => setTimeout(r, downMs));
      await launchDatabase();
    },
    async killGateway(i) {
      await exitOf(gateways[i], 'SIGKILL');
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
        ...(o.withCredentials ? { withCredentials: true } : {}),
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
      const stopAll = (procs: Proc[]) => Promise.all(procs.map((c) => c.stop({ graceMs: 10_000 })));
      // The app first, while its services are still there to drain into; then the services.
      const services = new Set([redisProc, mongoProc]);
      await stopAll(children.filter((c) => !services.has(c)));
      await stopAll(children.filter((c) => services.has(c)));
      if (ferretDir) rmSync(ferretDir, { recursive: true, force: true });
      if (redisDir) rmSync(redisDir, { recursive: true, force: true });
      if (lbDir) rmSync(lbDir, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < gateways.length; i++) await gatewayHealthy(i);
    if (opts.balancer) {
      await until(`the balancer at ${url} to answer /health`, async () => {
        return (await fetch(`${url}/health`)).ok;
      });
      // Answering is not enough: a gateway HAProxy still counts as down gets no clients, and a
      // test's clients would all land on the others (a classroom-cluster run had all 30
      // students on one node).
      for (let i = 0; i < gateways.length; i++) {
        await until(
          `HAProxy to count gateway ${i} in`,
          async () =>
            (await haproxyServerStatus(join(lbDir, 'admin.sock'), i).catch(() => '')) === 'UP',
          START_MS,
        );
      }
    }
    for (let i = 0; i < workers.length; i++) {
      await until(
        `worker ${i} to be ready`,
        () => {
          if (workers[i].done) throw new Fatal(`worker ${i} exited during start-up`);
          return workerLines(i, ' ready ').length > 0;
        },
        START_MS,
      );
    }
  } catch (err) {
    await stack.stop();
    throw new Error(`${(err as Error).message}\n${stack.logs()}`);
  }
  return stack;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Stops the Docker daemon as a restart would (SIGTERM; without live-restore its containers
 * die) and resolves once it has exited. Whoever manages it starts it again: the stack of
 * `npm test` respawns the dockerd it started, systemd's unit has Restart=always.
 */
export async function stopDocker(): Promise<void> {
  const pid = Number(execFileSync('pidof', ['-s', 'dockerd']).toString().trim());
  process.kill(pid, 'SIGTERM');
  await until('dockerd to exit', () => !existsSync(`/proc/${pid}`), 60_000);
}

/**
 * Null when a stopped dockerd will be started again by the stack of this checkout (its parent,
 * which respawns it). Else why not: a dockerd of systemd or of someone's shell also runs other
 * people's containers, which a stop would kill, so the test that restarts it must not run.
 */
export function dockerRestartable(): string | null {
  let pid: number;
  try {
    pid = Number(execFileSync('pidof', ['-s', 'dockerd']).toString().trim());
  } catch {
    return 'no dockerd process on this machine';
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  const parent = readFileSync(`/proc/${ppid}/cmdline`, 'utf8').split('\0').join(' ');
  // This checkout's stack only: another checkout's stack on the same machine (a second worktree,
  // say) owns a dockerd that other tests are using.
  let cwd = '';
  try {
    cwd = readlinkSync(`/proc/${ppid}/cwd`);
  } catch {
    // gone, or not ours to read
  }
  if (parent.includes('deploy/local/stack.mjs') && resolve(cwd) === resolve(REPO)) return null;
  return `dockerd (pid ${pid}) was not started by this checkout's stack (parent: "${parent.trim() || ppid}" in ${cwd || '?'})`;
}

/** Resolves when the Docker daemon answers again (see stopDocker). */
export async function dockerAnswers(ms = 60_000): Promise<void> {
  await until(
    'dockerd to be started again (by the stack of "npm test", or by systemd)',
    () => {
      try {
        execFileSync('docker', ['info'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    },
    ms,
  );
}

/**
 * Wraps a test body so that a failure carries the end of the services' logs: whole-path
 * failures are rarely explained by the assertion alone.
 */
export function withLogs(
  stack: () => Stack | undefined,
  body: () => Promise<void>,
  lines = 150,
): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (err) {
      const logs = stack()?.logs().split('\n').slice(-lines).join('\n') ?? '(no stack)';
      if (err instanceof Error) {
        err.message += `\n--- last ${lines} lines of the services' logs ---\n${logs}`;
      }
      throw err;
    }
  };
}

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef';
/** The gateways' METRICS_TOKEN in tests: `GET /metrics` on the API port needs it. */
export const TEST_METRICS_TOKEN = 'test-metrics-0123456789abcdef';

/** A gateway node's Prometheus text (`GET /metrics` with the test token). */
export async function gatewayMetrics(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, {
    headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` },
  });
  if (!res.ok) throw new Error(`GET ${url}/metrics: ${res.status}`);
  return res.text();
}

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

export const text = (chunks: readonly OutputChunk[], stream?: OutputChunk['stream']): string =>
  chunks
    .filter((c) => !stream || c.stream === stream)
    .map((c) => c.data)
    .join('');

type ClientEvent = keyof ClientToServerEvents;
export type EventPayload<E extends ClientEvent> = Parameters<ClientToServerEvents[E]>[0];
export type EventResult<E extends ClientEvent> = Parameters<ClientToServerEvents[E]>[1] extends (
  r: Ack<infer T>,
) => void
  ? T
  : never;

/** Emits a client event with an ack; resolves with the ack, whatever it says. */
export function callEvent<E extends ClientEvent>(
  s: ClientSocket,
  event: E,
  payload: EventPayload<E>,
  ms = 30_000,
): Promise<Ack<EventResult<E>>> {
  return (s.timeout(ms).emitWithAck as (e: string, p: unknown) => Promise<Ack<EventResult<E>>>)(
    event,
    payload,
  );
}

/** Emits a client event and expects `ok: true`; resolves with the result. */
export async function okEvent<E extends ClientEvent>(
  s: ClientSocket,
  event: E,
  payload: EventPayload<E>,
): Promise<EventResult<E>> {
  const ack = await callEvent(s, event, payload);
  if (!ack.ok) throw new Error(`${event}: ${ack.error.code} ${ack.error.message}`);
  return ack;
}

/** Emits a client event and expects a refusal with `code` (the event is named on a mismatch). */
export async function refusedEvent<E extends ClientEvent>(
  s: ClientSocket,
  event: E,
  payload: EventPayload<E>,
  code: string,
): Promise<void> {
  const ack = await callEvent(s, event, payload, 20_000);
  if (ack.ok || ack.error.code !== code) {
    throw new Error(`${event}: expected ${code}, got ${ack.ok ? 'ok' : ack.error.code}`);
  }
}
