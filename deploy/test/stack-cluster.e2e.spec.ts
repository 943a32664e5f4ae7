// The local cluster as a user runs it: `node deploy/local/stack.mjs cluster` (HAProxy, two
// gateways, two workers, its own Redis and FerretDB), not the test harness. Processes are
// killed the way a crash kills them (SIGKILL) and the stack's supervisor must bring each back
// while the rest serves; then a restart storm, and a rolling restart under load
// (deploy/bench/rolling.mjs against this cluster).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import type { OutputChunk, RunWatchResult } from '@coderoom/contracts';
import { haproxyCommand } from '../local/haproxy.mjs';
import { launch, type Proc } from '../local/launcher.mjs';
import { REPO, freePort, text, until, type ClientSocket } from '../../server/test/harness.js';

const NAME = 'e2e-cluster';
const STATE = join(REPO, '.local', 'run', `${NAME}.json`);

interface StackState {
  procs: { name: string; pid: number }[];
  units: Record<string, { restarts: number; gaveUp: boolean }>;
}

let stack: Proc;
const out: string[] = [];
let url = '';
let gatewayPorts: number[] = [];
let workerPorts: number[] = [];
let mongoUri = '';

const portIsFree = (p: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/** The first of `n` consecutive free ports. */
async function freeRun(n: number): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p + n >= 65536) continue;
    const free = await Promise.all(Array.from({ length: n }, (_, i) => portIsFree(p + i)));
    if (free.every(Boolean)) return p;
  }
}

const state = (): StackState => JSON.parse(readFileSync(STATE, 'utf8')) as StackState;
const pidOf = (name: string): number | undefined => state().procs.find((p) => p.name === name)?.pid;
const ok = async (u: string) => {
  try {
    return (await fetch(u)).ok;
  } catch {
    return false;
  }
};

/** Kills a process of the stack like a crash; resolves once the supervisor started a new one. */
async function crash(name: string): Promise<{ oldPid: number; newPid: number; ms: number }> {
  const oldPid = pidOf(name);
  if (!oldPid) throw new Error(`${name} is not running`);
  const t0 = Date.now();
  process.kill(oldPid, 'SIGKILL');
  let newPid = 0;
  await until(
    `${name} to be started again`,
    () => (newPid = pidOf(name) ?? 0) > 0 && newPid !== oldPid,
    20_000,
  );
  return { oldPid, newPid, ms: Date.now() - t0 };
}

/** A failure carries the end of the stack's output. */
const withStackLog =
  (body: () => Promise<void>): (() => Promise<void>) =>
  async () => {
    try {
      await body();
    } catch (err) {
      if (err instanceof Error)
        err.message += `\n--- stack output ---\n${out.slice(-150).join('\n')}`;
      throw err;
    }
  };

beforeAll(async () => {
  rmSync(join(REPO, '.local', 'data', NAME), { recursive: true, force: true });
  const port = await freeRun(3);
  const workerPort = await freeRun(2);
  gatewayPorts = [port + 1, port + 2];
  workerPorts = [workerPort, workerPort + 1];
  url = `http://127.0.0.1:${port}`;
  // Its own Redis and FerretDB (supervised, so they can be killed): not the suite's.
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.REDIS_URL;
  delete env.MONGODB_URI;
  stack = launch('stack', process.execPath, ['deploy/local/stack.mjs', 'cluster', '--no-build'], {
    cwd: REPO,
    env: {
      ...env,
      STACK_NAME: NAME,
      PORT: String(port),
      WORKER_HTTP_PORT: String(workerPort),
      NO_COLOR: '1',
      LOG_LEVEL: 'warn',
      WORKER_CONCURRENCY: '2',
      RUN_WALL_MS: '15000',
      RUN_QUOTAS: JSON.stringify({
        student: { perMinute: 100000, perDay: 1000000 },
        instructor: { perMinute: 100000, perDay: 1000000 },
      }),
    },
    onLine: (line) => out.push(line),
  });
  await until(
    'stack.mjs cluster to be up',
    () => {
      if (stack.done) throw new Error(`stack.mjs exited (${stack.how}):\n${out.join('\n')}`);
      return out.some((l) => l.includes('Coderoom is running'));
    },
    300_000,
  );
  const db = out.map((l) => /ferretdb: listening on 127\.0\.0\.1:(\d+)/.exec(l)).find(Boolean);
  mongoUri = `mongodb://127.0.0.1:${db![1]}/coderoom`;
  for (const p of [...gatewayPorts, ...workerPorts]) {
    await until(`:${p}/ready`, () => ok(`http://127.0.0.1:${p}/ready`), 60_000);
  }
}, 320_000);

afterAll(async () => {
  if (process.env.DEBUG_LOGS) console.log(out.join('\n'));
  await stack?.stop({ graceMs: 150_000 });
}, 160_000);

async function token(name: string, role = 'student'): Promise<string> {
  const res = await fetch(`${url}/api/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, role }),
  });
  if (!res.ok) throw new Error(`dev-token: HTTP ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/** A client through the balancer (long-polling, then the upgrade; the sticky cookie kept). */
async function client(name: string, role = 'student'): Promise<ClientSocket> {
  const s: ClientSocket = io(url, {
    auth: { token: await token(name, role) },
    withCredentials: true,
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return s;
}

interface Watched {
  runId: string;
  chunks: OutputChunk[];
  verdict: string | null;
  reconnects: number;
}

/**
 * Starts a run and follows it to its end like a careful client: after every reconnect it
 * resumes with run:watch { afterSeq } from the last seq it holds.
 */
async function follow(s: ClientSocket, source: string): Promise<Watched> {
  const w: Watched = { runId: '', chunks: [], verdict: null, reconnects: 0 };
  // Events that arrive before the ack names our run (another run's, or ours, early).
  const early: OutputChunk[] = [];
  const finishedEarly = new Map<string, string>();
  const take = (c: OutputChunk) => {
    if (!w.runId) return void early.push(c);
    if (c.runId === w.runId && !w.chunks.some((x) => x.seq === c.seq)) w.chunks.push(c);
  };
  s.on('run:output', take);
  s.on('run:finished', (e) => {
    if (!w.runId) finishedEarly.set(e.runId, e.verdict);
    else if (e.runId === w.runId) w.verdict = e.verdict;
  });
  s.io.on('reconnect', () => {
    w.reconnects++;
    const afterSeq = Math.max(0, ...w.chunks.map((c) => c.seq));
    void s.emitWithAck('run:watch', { runId: w.runId, afterSeq }).then((a) => {
      if (!a.ok) return;
      const r = a as { ok: true } & RunWatchResult;
      r.backlog.forEach(take);
      if (r.run.result) w.verdict = r.run.result.verdict;
    });
  });
  const ack = await s.timeout(10_000).emitWithAck('run:start', { language: 'python', source });
  if (!ack.ok) throw new Error(`run:start: ${JSON.stringify(ack)}`);
  w.runId = ack.runId;
  early.forEach(take);
  w.verdict ??= finishedEarly.get(w.runId) ?? null;
  return w;
}

function lines(tag: string, n: number, gap: number) {
  return {
    source: `import time\nfor i in range(${n}):\n    print("${tag} %d" % i, flush=True)\n    time.sleep(${gap})\n`,
    expected: Array.from({ length: n }, (_, i) => `${tag} ${i}\n`).join(''),
  };
}

const ordered = (w: Watched) => [...w.chunks].sort((a, b) => a.seq - b.seq);

/** One short run through the balancer ends OK with its output: the service serves. */
async function serves(name: string): Promise<void> {
  const s = await client(name);
  try {
    const p = lines(name, 2, 0);
    const w = await follow(s, p.source);
    await until(`${name}: run:finished`, () => w.verdict !== null, 60_000);
    expect(w.verdict).toBe('OK');
    expect(text(ordered(w))).toBe(p.expected);
  } finally {
    s.disconnect();
  }
}

it(
  'a gateway killed with SIGKILL while 12 clients stream is started again; cut-off clients resume through HAProxy and lose nothing',
  withStackLog(async () => {
    const sockets = await Promise.all(Array.from({ length: 12 }, (_, i) => client(`gw-${i}`)));
    try {
      const programs = sockets.map((_, i) => lines(`g${i}`, 40, 0.075));
      const runs = await Promise.all(sockets.map((s, i) => follow(s, programs[i].source)));
      await until(
        'four runs streaming',
        () => runs.filter((r) => r.chunks.length >= 5).length >= 4,
        30_000,
      );
      // The test needs clients on the node it kills: HAProxy's current sessions of g0.
      const stat = await haproxyCommand(
        join(REPO, '.local', 'run', `${NAME}-haproxy.sock`),
        'show stat',
      );
      const g0 = stat
        .split('\n')
        .map((l) => l.split(','))
        .find((f) => f[0] === 'gateways' && f[1] === 'g0');
      expect(Number(g0?.[4])).toBeGreaterThan(0);
      const { ms } = await crash('gateway-0');
      await until(
        'gateway-0 back on /ready',
        () => ok(`http://127.0.0.1:${gatewayPorts[0]}/ready`),
        30_000,
      );
      await until('every run to finish', () => runs.every((r) => r.verdict !== null), 90_000);
      for (const [i, r] of runs.entries()) {
        expect(r.verdict).toBe('OK');
        expect(ordered(r).map((c) => c.seq)).toEqual(r.chunks.map((_, k) => k + 1));
        expect(text(ordered(r))).toBe(programs[i].expected);
      }
      // Some clients were on the killed node and came back through the balancer.
      expect(runs.some((r) => r.reconnects > 0)).toBe(true);
      expect(ms).toBeLessThan(10_000);
      expect(out.join('\n')).toMatch(/gateway-0 \(pid \d+\) exited unexpectedly \(SIGKILL\)/);
    } finally {
      sockets.forEach((s) => s.disconnect());
    }
  }),
  180_000,
);

it(
  'a worker killed with SIGKILL mid-run is started again; its runs end as SE, none is stuck, the others finish whole',
  withStackLog(async () => {
    const s = await client('wk', 'instructor');
    try {
      // Four slow runs fill both workers' two slots each.
      const p = lines('w', 60, 0.1);
      const runs = await Promise.all([0, 1, 2, 3].map(() => follow(s, p.source)));
      await until('all four running', () => runs.every((r) => r.chunks.length > 0), 60_000);
      await crash('worker-1');
      await until(
        'worker-1 back on /ready',
        () => ok(`http://127.0.0.1:${workerPorts[1]}/ready`),
        30_000,
      );
      await until('every run to end', () => runs.every((r) => r.verdict !== null), 90_000);
      expect(runs.map((r) => r.verdict).sort()).toEqual(['OK', 'OK', 'SE', 'SE']);
      for (const r of runs.filter((x) => x.verdict === 'OK')) {
        expect(text(ordered(r))).toBe(p.expected);
      }
    } finally {
      s.disconnect();
    }
    await serves('after-worker');
  }),
  180_000,
);

it(
  'Redis killed with SIGKILL is started again by the supervisor on its append-only file; the service serves again',
  withStackLog(async () => {
    const s = await client('rd', 'instructor');
    try {
      const p = lines('r', 30, 0.1);
      const runs = await Promise.all([0, 1].map(() => follow(s, p.source)));
      await until('both running', () => runs.every((r) => r.chunks.length > 0), 60_000);
      const { ms } = await crash('redis');
      expect(ms).toBeLessThan(10_000);
      for (const port of gatewayPorts) {
        await until(`:${port}/ready again`, () => ok(`http://127.0.0.1:${port}/ready`), 60_000);
      }
      // Nothing stays stuck: the runs a worker held end, with a verdict.
      await until('both runs to end', () => runs.every((r) => r.verdict !== null), 90_000);
      for (const r of runs) expect(['OK', 'SE']).toContain(r.verdict);
    } finally {
      s.disconnect();
    }
    await serves('after-redis');
  }),
  240_000,
);

it(
  'FerretDB killed with SIGKILL is started again by the supervisor; runs are stored again',
  withStackLog(async () => {
    await crash('ferretdb');
    for (const port of gatewayPorts) {
      await until(`:${port}/ready again`, () => ok(`http://127.0.0.1:${port}/ready`), 60_000);
    }
    const s = await client('db');
    try {
      const p = lines('d', 2, 0);
      const w = await follow(s, p.source);
      await until('run:finished', () => w.verdict !== null, 60_000);
      expect(w.verdict).toBe('OK');
      const auth = { authorization: `Bearer ${await token('db')}` };
      await until(
        'the run to be stored as finished',
        async () => {
          const res = await fetch(`${url}/api/runs/${w.runId}`, { headers: auth });
          const body = (await res.json()) as { run?: { status: string } };
          return res.ok && body.run?.status === 'finished';
        },
        30_000,
      );
    } finally {
      s.disconnect();
    }
  }),
  180_000,
);

it(
  'a restart storm (5 exits within 60 s) stops only that process: the rest keeps serving',
  withStackLog(async () => {
    // Its exits in the worker test above may still count (within 60 s): kill until it gives up.
    const gaveUp = () => state().units['worker-1']?.gaveUp === true;
    let kills = 0;
    while (!gaveUp()) {
      const pid = pidOf('worker-1');
      if (!pid) {
        await until('worker-1 to run', () => gaveUp() || !!pidOf('worker-1'), 20_000);
        continue;
      }
      process.kill(pid, 'SIGKILL');
      kills++;
      await until(
        'worker-1 to be started again or given up',
        () => gaveUp() || (pidOf('worker-1') ?? pid) !== pid,
        20_000,
      );
    }
    expect(kills).toBeLessThanOrEqual(5);
    expect(out.join('\n')).toMatch(
      /worker-1 \(pid \d+\) exited unexpectedly \(SIGKILL\): restart storm/,
    );
    expect(pidOf('worker-1')).toBeUndefined();
    await serves('during-storm');
  }),
  180_000,
);

it(
  'a rolling restart (stack.mjs restart) under 20 clients: every gateway and worker replaced, 0 failed runs, 0 lost chunks, 0 stuck runs',
  withStackLog(async () => {
    const before = Object.fromEntries(
      ['gateway-0', 'gateway-1', 'worker-0'].map((n) => [n, pidOf(n)]),
    );
    const json = join(REPO, '.local', 'run', `${NAME}-rolling.json`);
    const lines: string[] = [];
    const bench = launch('rolling', process.execPath, ['deploy/bench/rolling.mjs'], {
      cwd: REPO,
      env: {
        ...process.env,
        BENCH_CLUSTER_URL: url,
        BENCH_STACK_NAME: NAME,
        BENCH_MONGODB_URI: mongoUri,
        BENCH_JSON: json,
        BENCH_CLIENTS: '20',
        BENCH_WARM_SECONDS: '8',
        BENCH_AFTER_SECONDS: '8',
      },
      onLine: (l) => lines.push(l),
    });
    await bench.exited;
    const table = lines.join('\n');
    expect({ code: bench.code, table }).toEqual({ code: 0, table });
    const r = JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>;
    console.log(table);
    expect({
      failedRuns: r.failedRuns,
      lostChunks: r.lostChunks,
      missingLines: r.missingLines,
      stuckRuns: r.stuckRuns,
      problems: r.problems,
    }).toEqual({ failedRuns: 0, lostChunks: 0, missingLines: 0, stuckRuns: 0, problems: [] });
    expect(r.runs as number).toBeGreaterThan(20);
    // Every gateway and worker is a new process, and the worker the storm stopped is back.
    for (const [n, pid] of Object.entries(before)) expect(pidOf(n)).not.toBe(pid);
    expect(pidOf('worker-1')).toBeDefined();
    expect(state().units['worker-1'].gaveUp).toBe(false);
  }),
  400_000,
);
