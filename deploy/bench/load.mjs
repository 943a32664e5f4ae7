#!/usr/bin/env node
// Load benchmark (issue 4): the whole system (socket.io clients -> HAProxy -> 2 gateways ->
// BullMQ -> workers -> Docker sandboxes -> every gateway -> clients) under many clients at once.
// Starts its own gateways behind HAProxy (cookie-sticky, deploy/local/haproxy.mjs) and workers,
// then
//  I. BENCH_IDLE (500) idle connections: each gateway's RSS and V8 heap per connection;
//  A. BENCH_CLIENTS (200) clients, distinct users, each looping a short Python program for
//     BENCH_LOAD_SECONDS (60): time to first output, delivery latency, runs/s, refusals, errors,
//     stuck runs;
//  B. one run printing a timestamped line every 50 ms for 10 s, watched by BENCH_WATCHERS (500)
//     sockets (it starts printing once all are attached): delivery latency, missing/duplicate
//     chunks, fan-out spread;
// and each gateway's RSS per connection in both, and whether the runs the clients saw finish are
// stored as finished in MongoDB. Prints Markdown; the services' logs go to .local/log/bench-load/. Needs REDIS_URL and MONGODB_URI: run it through
// `BENCH=load node deploy/local/stack.mjs bench`. Exits non-zero only if the system did not start.
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { haproxyConfig } from '../local/haproxy.mjs';
import { launch as launchProc } from '../local/launcher.mjs';
import { devToken, freePort, machine, num, sleep, waitHttp } from './common.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
// The gateway's own MongoDB client, to check the stored results (not a dependency of the root).
const mongoose = createRequire(join(REPO, 'server/package.json'))('mongoose');
const env = process.env;
for (const v of ['REDIS_URL', 'MONGODB_URI']) {
  if (!env[v]) throw new Error(`${v} is not set: run BENCH=load node deploy/local/stack.mjs bench`);
}
const CLIENTS = num('BENCH_CLIENTS', 200);
const WATCHERS = num('BENCH_WATCHERS', 500);
const IDLE = num('BENCH_IDLE', 500);
const SECONDS = num('BENCH_LOAD_SECONDS', 60);
const GRACE_SECONDS = num('BENCH_GRACE_SECONDS', 30);
const GATEWAYS = num('BENCH_GATEWAYS', 2);
const WORKERS = num('BENCH_WORKERS', 2);
const CONCURRENCY = String(num('BENCH_WORKER_CONCURRENCY', 2));
const WARM_POOL = String(num('BENCH_WARM_POOL', 2));
const WATCH_LINES = num('BENCH_WATCH_LINES', 200);
const TRANSPORTS = (env.BENCH_TRANSPORTS ?? 'polling,websocket').split(',');
const PHASES = (env.BENCH_PHASES ?? 'i,a,b').split(',');
const LOG_DIR = env.BENCH_LOG_DIR ?? join(REPO, '.local/log/bench-load');
const ACK_TIMEOUT_MS = 20000;
const CLK_TCK = 100; // USER_HZ of /proc/<pid>/stat on Linux

// The programs print "L <epoch ms>" lines; the client subtracts that from its receipt time.
const A_LINES = 5;
const PROGRAM_A = `import time
for i in range(${A_LINES}):
    print("L %.3f" % (time.time_ns() / 1e6), flush=True)
    time.sleep(0.02)
`;
// Interactive: it waits for a line on stdin, which the owner sends once every watcher is attached.
const PROGRAM_B = `import sys, time
sys.stdin.readline()
for i in range(${WATCH_LINES}):
    print("L %.3f" % (time.time_ns() / 1e6), flush=True)
    time.sleep(0.05)
`;

// One Redis database for the whole system: the URL's own (".../18"), else 16.
const redisUrl = new URL(env.REDIS_URL);
if (redisUrl.pathname.length <= 1) redisUrl.pathname = '/16';
const serviceEnv = {
  ...env,
  REDIS_URL: redisUrl.toString(),
  JWT_SECRET: 'bench-load-secret-0123456789abcdef',
  DEV_TOKENS: 'true',
  // GET /metrics on the API port answers requests bearing it (the gateway's default: no metrics).
  METRICS_TOKEN: 'bench-load-metrics-0123456789abcdef',
  HOST: '127.0.0.1',
  LOG_LEVEL: env.BENCH_LOG_LEVEL ?? 'warn',
  WORKER_CONCURRENCY: CONCURRENCY,
  WARM_POOL_SIZE: WARM_POOL,
  WORKER_HTTP_HOST: '127.0.0.1',
  RUN_WALL_MS: '120000', // phase B's run waits for 500 watches before it prints
  // Quotas must not dominate: every client is its own user, with room to spare.
  RUN_QUOTAS: JSON.stringify({
    student: { perMinute: 100000, perDay: 1000000, concurrent: 64 },
    admin: { perMinute: 100000, perDay: 1000000, concurrent: 64 },
  }),
};
if (env.BENCH_BUSY_WAIT_MS) serviceEnv.BUSY_WAIT_MS = env.BENCH_BUSY_WAIT_MS;

// ---------------------------------------------------------------------------------------------
// Processes

const children = new Set();
const launched = []; // also the stopped ones, for their logs
const unexpectedExits = [];

function launch(name, cmd, args, extraEnv = {}) {
  const logFile = join(LOG_DIR, `${name}.log`);
  const proc = launchProc(name, cmd, args, {
    cwd: REPO,
    env: { ...serviceEnv, ...extraEnv },
    logFile,
    truncate: true,
  });
  const child = { name, proc, logFile };
  child.exited = proc.exited.then(() => {
    children.delete(child);
    if (!proc.stopping) unexpectedExits.push(`${name} (pid ${proc.pid}) exited: ${proc.how}`);
  });
  children.add(child);
  launched.push(child);
  return child;
}

async function stop(child, graceMs = 30000) {
  await child.proc.stop({ graceMs });
  await child.exited;
}

process.on('exit', () => {
  for (const c of children) c.proc.send('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    Promise.all([...children].map((c) => stop(c, 5000))).finally(() => process.exit(130));
  });
}

const node = process.execPath;
const sys = {
  lb: '',
  lbPort: 0,
  gwPorts: [],
  inspectPorts: [],
  gateways: [],
  workers: [],
  haproxy: null,
};

/** Phase I's gateways listen for the inspector (127.0.0.1), to collect garbage before measuring. */
function launchGateway(i, suffix) {
  const inspect =
    suffix === '' && PHASES.includes('i') ? [`--inspect=127.0.0.1:${sys.inspectPorts[i]}`] : [];
  return launch(
    `gateway-${i}${suffix}`,
    node,
    [...inspect, join(REPO, 'server/dist/src/main.js')],
    {
      PORT: String(sys.gwPorts[i]),
    },
  );
}

/**
 * A gateway's memory after a full garbage collection, through its inspector (Node's own
 * protocol): `process.memoryUsage()` once `HeapProfiler.collectGarbage` has run twice, so that
 * the heap holds live objects only. null when the gateway has no inspector.
 */
async function collectedMemory(i) {
  try {
    const [target] = await (
      await fetch(`http://127.0.0.1:${sys.inspectPorts[i]}/json/list`)
    ).json();
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    let id = 0;
    const call = (method, params = {}) =>
      new Promise((resolve) => {
        const mine = ++id;
        const onMessage = (raw) => {
          const m = JSON.parse(raw);
          if (m.id !== mine) return;
          ws.off('message', onMessage);
          resolve(m.result);
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ id: mine, method, params }));
      });
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const r = await call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    });
    ws.close();
    return JSON.parse(r.result.value);
  } catch {
    return null;
  }
}

async function waitGateways() {
  for (let i = 0; i < GATEWAYS; i++) {
    // /ready: Redis, the database and the queue answer (and, where implemented, the run feed).
    if (!(await waitHttp(`http://127.0.0.1:${sys.gwPorts[i]}/ready`, 60000))) {
      throw new Error(`gateway-${i} is not ready after 60 s; see ${sys.gateways[i].logFile}`);
    }
  }
}

async function startSystem() {
  mkdirSync(LOG_DIR, { recursive: true });
  sys.lbPort = await freePort();
  sys.lb = `http://127.0.0.1:${sys.lbPort}`;
  for (let i = 0; i < GATEWAYS; i++) sys.gwPorts.push(await freePort());
  for (let i = 0; i < GATEWAYS; i++) sys.inspectPorts.push(await freePort());
  sys.gateways = sys.gwPorts.map((_, i) => launchGateway(i, ''));
  const workerPorts = [];
  for (let i = 0; i < WORKERS; i++) workerPorts.push(await freePort());
  sys.workers = workerPorts.map((p, i) =>
    launch(`worker-${i}`, node, [join(REPO, 'worker/dist/src/main.js')], {
      WORKER_ID: `bench-load-${i}`,
      WORKER_HTTP_PORT: String(p),
    }),
  );
  await waitGateways();
  for (let i = 0; i < WORKERS; i++) {
    if (!(await waitHttp(`http://127.0.0.1:${workerPorts[i]}/ready`, 60000))) {
      throw new Error(`worker-${i} is not ready after 60 s; see ${sys.workers[i].logFile}`);
    }
  }
  const cfg = join(LOG_DIR, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(sys.lbPort, sys.gwPorts));
  sys.haproxy = launch('haproxy', 'haproxy', ['-db', '-f', cfg]);
  if (!(await waitHttp(`${sys.lb}/health`, 15000))) {
    throw new Error(`HAProxy does not answer; see ${sys.haproxy.logFile}`);
  }
  if (unexpectedExits.length) throw new Error(unexpectedExits.join('; '));
  // Warm up: the first Python run of each worker creates its warm pool.
  const token = await devToken(sys.lb, 'bench-warmup', 'student');
  const s = await connect(token);
  for (let round = 0; round < 2; round++) {
    await Promise.all(
      Array.from({ length: WORKERS * Number(CONCURRENCY) }, () =>
        s.timeout(60000).emitWithAck('run:start', { language: 'python', source: 'print(1)' }),
      ),
    );
    await sleep(3000);
  }
  s.disconnect();
}

/** Phase B gets fresh gateways, so that its memory baseline is not phase A's leftovers. */
async function restartGateways() {
  await Promise.all(sys.gateways.map((g) => stop(g)));
  sys.gateways = sys.gwPorts.map((_, i) => launchGateway(i, '-b'));
  await waitGateways();
  await sleep(2000); // HAProxy's checks (inter 300 ms, rise 2) put them back in rotation
}

// ---------------------------------------------------------------------------------------------
// Measuring the processes

function rssBytes(pid) {
  try {
    const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)?.[1];
    return kb ? Number(kb) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of the whole machine. */
function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1);
  const n = f.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - n[3] - n[4], total };
}

/**
 * What a gateway says about itself on /metrics: its connected sockets and its V8 heap in use
 * (live objects plus garbage not collected yet).
 */
async function gatewayMetrics(i) {
  try {
    const text = await (
      await fetch(`http://127.0.0.1:${sys.gwPorts[i]}/metrics`, {
        headers: { authorization: `Bearer ${serviceEnv.METRICS_TOKEN}` },
      })
    ).text();
    const metric = (name) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? NaN);
    return {
      sockets: metric('coderoom_gateway_sockets'),
      heap: metric('coderoom_gateway_nodejs_heap_size_used_bytes'),
    };
  } catch {
    return { sockets: NaN, heap: NaN };
  }
}

/** RSS, V8 heap in use and sockets of every gateway now. */
async function snapshot() {
  return Promise.all(
    sys.gateways.map(async (g, i) => ({ rss: rssBytes(g.proc.pid), ...(await gatewayMetrics(i)) })),
  );
}

/** Samples each gateway's RSS every second; stop() gives the maxima. */
function rssSampler() {
  const max = sys.gateways.map(() => 0);
  const tick = () =>
    sys.gateways.forEach((g, i) => (max[i] = Math.max(max[i], rssBytes(g.proc.pid) || 0)));
  tick();
  const timer = setInterval(tick, 1000);
  return {
    stop: () => {
      clearInterval(timer);
      tick();
      return max;
    },
  };
}

/** Docker, FerretDB and Redis: shared with everything else on the machine that uses them. */
const INFRA = ['dockerd', 'containerd', 'ferretdb', 'redis-server'];
function infraPids() {
  const found = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (INFRA.includes(comm)) found.push([`${comm} (shared)`, Number(pid)]);
    } catch {
      /* gone */
    }
  }
  return found;
}

/** CPU used by each process, this one and the machine between start() and stop(). */
function cpuMeter() {
  const procs = () => [
    ['client (this process)', process.pid],
    ...sys.gateways.map((g) => [g.name.replace(/-b$/, ''), g.proc.pid]),
    ...sys.workers.map((w) => [w.name, w.proc.pid]),
    ['haproxy', sys.haproxy.proc.pid],
    ...infraPids(),
  ];
  const before = new Map(procs().map(([n, pid]) => [n, cpuSeconds(pid)]));
  const m0 = machineCpu();
  const t0 = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  return {
    stop: () => {
      loop.disable();
      const wall = (performance.now() - t0) / 1000;
      const m1 = machineCpu();
      const out = new Map();
      for (const [n, pid] of procs()) out.set(n, (cpuSeconds(pid) - before.get(n)) / wall);
      out.set('whole machine (% of all cores)', (m1.busy - m0.busy) / (m1.total - m0.total));
      return { share: out, loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6 };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Clients

const now = () => performance.now();
const epoch = (t) => performance.timeOrigin + t;
const inc = (obj, key, by = 1) => (obj[key] = (obj[key] ?? 0) + by);

function connect(token) {
  return new Promise((resolve, reject) => {
    const s = io(sys.lb, {
      auth: { token },
      forceNew: true, // one connection per client, not one multiplexed Manager for all
      transports: TRANSPORTS,
      withCredentials: true, // keeps the balancer's cookie: long-polling needs stickiness
      reconnectionDelay: 200,
      reconnectionDelayMax: 2000,
    });
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('connect timeout'));
    }, 30000);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('connect_error', (err) => {
      clearTimeout(timer);
      s.close();
      reject(err);
    });
  });
}

/** The gateway the balancer's cookie pins a socket to (engine.io's Node cookie jar; best effort). */
function cookieNode(s) {
  try {
    for (const [name, c] of s.io.engine._cookieJar.cookies)
      if (name === 'CODEROOM_NODE') return c.value;
  } catch {
    /* no jar (websocket-only) or another engine.io-client */
  }
  return '?';
}

const byNode = (sockets) => {
  const n = {};
  for (const s of sockets) inc(n, cookieNode(s));
  return Object.entries(n)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
};

async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/** n sockets of distinct users through the balancer; failures are counted in errors. */
async function connectMany(n, prefix, role, errors) {
  const t0 = now();
  const sockets = await mapLimit(
    Array.from({ length: n }, (_, i) => `${prefix}-${i}`),
    25,
    async (name) => {
      try {
        return await connect(await devToken(sys.lb, name, role));
      } catch (err) {
        inc(errors, `connect: ${err.message}`);
        return null;
      }
    },
  );
  return { sockets: sockets.filter(Boolean), seconds: (now() - t0) / 1000 };
}

/**
 * The timestamps of the "L <ms>" lines a chunk completes. Chunks need not end at line ends (with
 * `python3 -u` the text and the newline of a print are two writes), so the rest is carried over.
 */
class Lines {
  carry = '';
  push(data) {
    const lines = (this.carry + data).split('\n');
    this.carry = lines.pop();
    return lines.filter((l) => l.startsWith('L ')).map((l) => Number(l.slice(2)));
  }
}

/** Phase A: one user looping runs; everything it sees goes into the shared stats `st`. */
class LoadClient {
  constructor(socket, st) {
    this.s = socket;
    this.st = st;
    this.run = null;
    this.closing = false;
    socket.on('run:output', (c) => this.output(c, now()));
    socket.on('run:finished', (e) => this.finished(e, now()));
    socket.on('disconnect', (reason) => this.closing || inc(st.disconnects, reason));
    socket.io.on('reconnect', () => this.rewatch());
  }

  output(c, t) {
    const r = this.run;
    if (r?.runId === null) r.early.push(['output', c, t]);
    else if (r && c.runId === r.runId) this.take(r, c, t);
    else this.st.strays++;
  }

  finished(e, t) {
    const r = this.run;
    if (r?.runId === null) r.early.push(['finished', e, t]);
    else if (r && e.runId === r.runId) this.end(r, e.verdict, t);
  }

  take(r, c, t) {
    const st = this.st;
    if (c.seq <= r.lastSeq) return void st.duplicateChunks++;
    if (c.seq !== r.lastSeq + 1) st.missingChunks += c.seq - r.lastSeq - 1;
    r.lastSeq = c.seq;
    r.first ??= t;
    for (const ts of r.text.push(c.data)) {
      st.delivery.push(epoch(t) - ts);
      r.lines++;
    }
  }

  end(r, verdict, t) {
    if (r.end !== null) return;
    const st = this.st;
    r.end = t;
    inc(st.verdicts, verdict);
    if (r.first !== null) st.firstOutput.push(r.first - r.t0);
    st.finished.push(t - r.t0);
    st.finishedIds.push(r.runId);
    if (verdict === 'OK' && r.lines < A_LINES) st.shortRuns++;
    if (t <= st.deadline) st.completed++;
    else st.completedInGrace++;
    this.run = null;
    r.resolve({ done: true });
  }

  /** After a reconnect (possibly to the other gateway): resume the run in flight. */
  rewatch() {
    this.st.reconnects++;
    const r = this.run;
    if (!r || r.runId === null) return;
    this.s.emit('run:watch', { runId: r.runId, afterSeq: r.lastSeq }, (ack) => {
      if (!ack.ok) return void inc(this.st.errors, `run:watch ${ack.error.code}`);
      const t = now();
      for (const c of ack.backlog) this.take(r, c, t);
      if (ack.run.status === 'finished') this.end(r, ack.run.result?.verdict ?? '?', t);
    });
  }

  /** Starts one run; resolves { done } when it finished, or { error } when refused. */
  start() {
    return new Promise((resolve) => {
      const r = { t0: now(), runId: null, early: [], first: null, lastSeq: 0, lines: 0 };
      r.text = new Lines();
      Object.assign(r, { end: null, resolve });
      this.run = r;
      this.st.attempts++;
      const payload = { language: 'python', source: PROGRAM_A };
      this.s.timeout(ACK_TIMEOUT_MS).emit('run:start', payload, (err, ack) => {
        if (err || !ack.ok) {
          this.run = null;
          resolve({ error: err ? { code: 'ACK_TIMEOUT' } : ack.error });
          return;
        }
        this.st.ack.push(now() - r.t0);
        this.st.position.push(ack.position);
        r.runId = ack.runId;
        for (const [kind, x, t] of r.early) {
          if (x.runId !== r.runId) this.st.strays++;
          else if (kind === 'output') this.take(r, x, t);
          else this.end(r, x.verdict, t);
        }
        r.early = [];
      });
    });
  }

  async loop() {
    const st = this.st;
    while (now() < st.deadline) {
      const out = await Promise.race([this.start(), st.hardStop]);
      if (out.hardStop) {
        const r = this.run;
        if (r?.runId) {
          st.stuck.push({ ...r, ageS: (now() - r.t0) / 1000, node: cookieNode(this.s) });
        } else if (r) inc(st.errors, 'no ack by the end');
        return;
      }
      if (!out.error) continue;
      const { code, retryAfterMs } = out.error;
      const wait = Math.max(0, Math.min(retryAfterMs ?? 1000, st.deadline - now()));
      if (code === 'BUSY' || code === 'RATE_LIMITED') {
        inc(st.refusals, code);
        st.refusalWaitMs.push(retryAfterMs ?? NaN);
        st.busyExpectedMs.push(out.error.details?.expectedWaitMs ?? NaN);
      } else inc(st.errors, code);
      await sleep(wait);
    }
  }
}

/**
 * Of these runs, which the clients saw finish, those whose MongoDB document does not say
 * `finished` (what `GET /api/runs/:id` and `run:watch` serve once the Redis replay log expired).
 */
async function notStored(runIds) {
  await sleep(2000); // the worker writes the document before it announces run:finished
  let conn = null;
  try {
    conn = await mongoose
      .createConnection(env.MONGODB_URI, { serverSelectionTimeoutMS: 5000 })
      .asPromise();
    const docs = await conn.db
      .collection('runs')
      .find({ _id: { $in: runIds }, status: { $ne: 'finished' } })
      .project({ status: 1 })
      .toArray();
    return { checked: runIds.length, bad: docs.map((d) => `${d._id} (${d.status})`) };
  } catch (err) {
    return { checked: runIds.length, error: err.message, bad: [] };
  } finally {
    await conn?.close();
  }
}

const stored = (u) =>
  u.error
    ? `could not check the stored runs: ${u.error}`
    : `${u.bad.length} of the ${u.checked} finished runs are not \`finished\` in MongoDB${u.bad.length ? ` (${u.bad.slice(0, 3).join(', ')}${u.bad.length > 3 ? ', ...' : ''})` : ''}`;

// ---------------------------------------------------------------------------------------------
// Phases

function summary(xs) {
  const s = Float64Array.from(xs.filter((x) => !Number.isNaN(x))).sort();
  if (!s.length) return null;
  const at = (p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  return { n: s.length, p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1] };
}
const f = (ms) => (ms === undefined || Number.isNaN(ms) ? 'n/a' : ms.toFixed(ms < 10 ? 1 : 0));
const p3 = (s) => (s ? `${f(s.p50)} / ${f(s.p95)} / ${f(s.p99)}` : 'n/a');
const p4 = (s) => (s ? `${p3(s)} / ${f(s.max)}` : 'n/a');
const counts = (obj) =>
  Object.entries(obj)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ') || '0';
const mib = (b) => (b / 2 ** 20).toFixed(1);
const split = (snap) => snap.map((g) => (Number.isNaN(g.sockets) ? '?' : g.sockets)).join(' + ');

async function phaseA() {
  const base = await snapshot();
  const connectErrors = {};
  const { sockets, seconds } = await connectMany(CLIENTS, 'load', 'student', connectErrors);
  await sleep(2000);
  const idle = await snapshot();
  const st = {
    attempts: 0,
    completed: 0,
    completedInGrace: 0,
    ack: [],
    firstOutput: [],
    finished: [],
    delivery: [],
    verdicts: {},
    refusals: {},
    refusalWaitMs: [],
    busyExpectedMs: [],
    position: [],
    errors: { ...connectErrors },
    disconnects: {},
    reconnects: 0,
    strays: 0,
    duplicateChunks: 0,
    missingChunks: 0,
    shortRuns: 0,
    stuck: [],
    finishedIds: [],
  };
  const clients = sockets.map((s) => new LoadClient(s, st));
  const cookies = byNode(sockets);
  const sampler = rssSampler();
  const cpu = cpuMeter();
  st.deadline = now() + SECONDS * 1000;
  st.hardStop = sleep((SECONDS + GRACE_SECONDS) * 1000).then(() => ({ hardStop: true }));
  await Promise.all(clients.map((c) => c.loop()));
  const cpuUse = cpu.stop();
  const busyMax = sampler.stop();
  const busyEnd = await snapshot();
  for (const c of clients) {
    c.closing = true;
    c.s.disconnect();
  }
  st.unstored = await notStored(st.finishedIds);
  return { base, idle, busyMax, busyEnd, connected: sockets.length, seconds, cookies, st, cpuUse };
}

/**
 * Phase I: what an idle connection costs a gateway. Fresh gateways, then BENCH_IDLE clients
 * connect (long-polling first, then the websocket upgrade, like browsers) and do nothing;
 * measured after a full garbage collection in each gateway (through its inspector), before, 2 s
 * after the last one connected and 10 s after (the long-polling requests' HTTP keep-alive
 * connections are closed by then: Node's 5 s keepAliveTimeout).
 */
async function phaseIdle() {
  const measure = () =>
    Promise.all(
      sys.gateways.map(async (_, i) => ({
        ...(await collectedMemory(i)),
        sockets: (await gatewayMetrics(i)).sockets,
      })),
    );
  await sleep(3000); // the gateways' own start-up work settles
  const base = await measure();
  const errors = {};
  const { sockets, seconds } = await connectMany(IDLE, 'idle', 'student', errors);
  await sleep(2000);
  const early = await measure();
  await sleep(8000);
  const settled = await measure();
  for (const s of sockets) s.disconnect();
  return { base, early, settled, connected: sockets.length, seconds, errors };
}

/** Phase I's table rows: memory after a full GC, per connection. */
function idleRows(label, snap, base) {
  return snap.map((g, i) => {
    const per = (key) =>
      g.sockets > 0 && g[key] !== undefined
        ? ((g[key] - base[i][key]) / g.sockets / 1024).toFixed(1)
        : '–';
    const ext = (m) => (m.external ?? NaN) + (m.arrayBuffers ?? 0);
    const extPer = g.sockets > 0 ? ((ext(g) - ext(base[i])) / g.sockets / 1024).toFixed(1) : '–';
    return `| g${i} | ${label} | ${g.sockets} | ${g.rss === undefined ? '?' : mib(g.rss)} | ${per('rss')} | ${per('heapUsed')} | ${extPer} |`;
  });
}

async function phaseB() {
  const base = await snapshot();
  const errors = {};
  const { sockets, seconds } = await connectMany(WATCHERS, 'watch', 'admin', errors);
  const [owner] = (await connectMany(1, 'watch-owner', 'student', errors)).sockets;
  if (!owner) throw new Error(`the run's owner could not connect: ${counts(errors)}`);
  await sleep(2000);
  const idle = await snapshot();
  const sampler = rssSampler();

  let runId = null;
  const chunkData = new Map(); // seq -> data (the same for everyone)
  const watchers = sockets.map((s) => {
    const w = { recv: new Map(), backlog: new Set(), dup: 0, fin: 0, ackMs: null };
    s.on('run:output', (c) => {
      const t = now();
      if (c.runId !== runId) return;
      if (w.recv.has(c.seq)) return void w.dup++;
      w.recv.set(c.seq, t);
      if (!chunkData.has(c.seq)) chunkData.set(c.seq, c.data);
    });
    s.on('run:finished', (e) => e.runId === runId && w.fin++);
    return w;
  });
  const ownerSeen = new Set();
  let ownerDone = false;
  owner.on('run:output', (c) => {
    ownerSeen.add(c.seq);
    if (!chunkData.has(c.seq)) chunkData.set(c.seq, c.data);
  });
  owner.on('run:finished', () => (ownerDone = true));
  const ack = await owner
    .timeout(ACK_TIMEOUT_MS)
    .emitWithAck('run:start', { language: 'python', source: PROGRAM_B, interactive: true });
  if (!ack.ok) throw new Error(`run:start refused: ${JSON.stringify(ack.error)}`);
  runId = ack.runId;
  const watchStart = now();
  const watchCpu = cpuMeter();
  await Promise.all(
    sockets.map(async (s, i) => {
      const w = watchers[i];
      try {
        const res = await s.timeout(ACK_TIMEOUT_MS).emitWithAck('run:watch', { runId });
        if (!res.ok) return void inc(errors, `run:watch ${res.error.code}`);
        w.ackMs = now() - watchStart;
        const t = now();
        for (const c of res.backlog) {
          if (w.recv.has(c.seq)) {
            w.dup++;
          } else {
            w.recv.set(c.seq, t);
            w.backlog.add(c.seq);
            chunkData.set(c.seq, c.data);
          }
        }
        if (res.run.status === 'finished') w.fin++;
      } catch {
        inc(errors, 'run:watch ACK_TIMEOUT');
      }
    }),
  );
  const watchSeconds = (now() - watchStart) / 1000;
  const watchCpuUse = watchCpu.stop();
  const cpu = cpuMeter();
  const go = await owner
    .timeout(ACK_TIMEOUT_MS)
    .emitWithAck('run:input', { runId, data: 'go\n', eof: true });
  if (!go.ok) inc(errors, `run:input ${go.error.code}`);
  const limit = now() + WATCH_LINES * 50 + 60000;
  while (now() < limit && !(ownerDone && watchers.every((w) => w.fin > 0))) await sleep(200);
  const cpuUse = cpu.stop();
  const watchingMax = sampler.stop();
  const watching = await snapshot(); // still connected

  // Latency of every line at every watcher (live chunks only), and the spread per chunk.
  const lastSeq = Math.max(0, ...chunkData.keys(), ...ownerSeen);
  const text = new Lines();
  const stamps = new Map();
  for (let seq = 1; seq <= lastSeq; seq++) stamps.set(seq, text.push(chunkData.get(seq) ?? ''));
  const delivery = [];
  const spread = [];
  const lastArrival = [];
  for (let seq = 1; seq <= lastSeq; seq++) {
    let min = Infinity;
    let max = -Infinity;
    for (const w of watchers) {
      const t = w.recv.get(seq);
      if (t === undefined || w.backlog.has(seq)) continue;
      min = Math.min(min, t);
      max = Math.max(max, t);
      for (const ts of stamps.get(seq) ?? []) delivery.push(epoch(t) - ts);
    }
    if (max >= min) {
      spread.push(max - min);
      for (const ts of stamps.get(seq) ?? []) lastArrival.push(epoch(max) - ts);
    }
  }
  let missing = 0;
  const watchersMissing = {}; // by the gateway they are on
  const noFinished = {};
  for (const [i, w] of watchers.entries()) {
    let m = 0;
    for (let seq = 1; seq <= lastSeq; seq++) if (!w.recv.has(seq)) m++;
    missing += m;
    if (m) inc(watchersMissing, cookieNode(sockets[i]));
    if (w.fin === 0) inc(noFinished, cookieNode(sockets[i]));
  }
  const cookies = byNode([...sockets, owner]);
  for (const s of [...sockets, owner]) s.disconnect();
  return {
    base,
    idle,
    watching,
    watchingMax,
    connected: sockets.length,
    seconds,
    cookies,
    watchSeconds,
    watchAck: summary(watchers.map((w) => w.ackMs ?? NaN)),
    errors,
    lastSeq,
    lines: [...stamps.values()].reduce((a, s) => a + s.length, 0),
    ownerMissing: lastSeq - ownerSeen.size,
    viaBacklog: watchers.reduce((a, w) => a + w.backlog.size, 0),
    delivery: summary(delivery),
    spread: summary(spread),
    lastArrival: summary(lastArrival),
    missing,
    watchersMissing,
    duplicates: watchers.reduce((a, w) => a + w.dup, 0),
    noFinished,
    finishedTwice: watchers.filter((w) => w.fin > 1).length,
    cpuUse,
    watchCpuUse,
    unstored: await notStored([runId]),
  };
}

// ---------------------------------------------------------------------------------------------
// Report

function memoryRows(label, snap, base, rssOverride) {
  return snap.map((g, i) => {
    const rss = rssOverride?.[i] ?? g.rss;
    const n = g.sockets;
    const dRss = rss - base[i].rss;
    const per = (d) => (n > 0 && !Number.isNaN(d) ? (d / n / 1024).toFixed(1) : '–');
    const heap = rssOverride ? '–' : per(g.heap - base[i].heap);
    return `| g${i} | ${label} | ${Number.isNaN(n) ? '?' : n} | ${mib(rss)} | ${mib(dRss)} | ${per(dRss)} | ${heap} |`;
  });
}

/** Warnings and errors the services logged (pino JSON level >= 40, or any non-JSON line). */
function logFindings(child) {
  let text = '';
  try {
    text = readFileSync(child.logFile, 'utf8');
  } catch {
    return null;
  }
  const byMsg = {};
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    // Grouped by shape: ids and numbers do not make a message different.
    let msg = line.slice(0, 100).replace(/[0-9a-f]{8}-[0-9a-f-]{27}|\d+(\.\d+)?/g, '#');
    try {
      const j = JSON.parse(line);
      if (typeof j.level === 'number' && j.level < 40) continue;
      msg = `${j.level >= 50 ? 'error' : 'warn'}: ${String(j.msg ?? '').slice(0, 100)}`;
    } catch {
      /* not JSON: count the raw line */
    }
    n++;
    inc(byMsg, msg);
  }
  const top = Object.entries(byMsg)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([m, c]) => `${c}x ${m.replaceAll('|', '/')}`);
  return { n, top };
}

const out = (line = '') => console.log(line);
const started = new Date();
out(`# Coderoom load benchmark, ${started.toISOString().slice(0, 10)}`);
out('');
out(
  `machine: ${machine()}; load average before: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
out(
  `system: ${GATEWAYS} gateways behind HAProxy (cookie-sticky), ${WORKERS} workers x concurrency ${CONCURRENCY}, warm pool ${WARM_POOL}; ` +
    `BUSY_WAIT_MS ${serviceEnv.BUSY_WAIT_MS ?? 'default (5000)'}; client transports ${TRANSPORTS.join(',')}; logs in ${LOG_DIR}`,
);
try {
  await startSystem();
} catch (err) {
  console.error(`load benchmark: the system did not start: ${err.message}`);
  await Promise.all([...children].map((c) => stop(c, 5000)));
  process.exit(1);
}

let a = null;
let b = null;
let idle = null;
const cpuTables = [];
try {
  if (PHASES.includes('i') && IDLE > 0) {
    idle = await phaseIdle();
    out('');
    out(
      `## I: ${IDLE} idle connections: connected ${idle.connected}/${IDLE} in ${idle.seconds.toFixed(1)} s; sockets per gateway: ${split(idle.settled)}; errors: ${counts(idle.errors)} (memory below)`,
    );
  }
  if (PHASES.includes('a') && CLIENTS > 0) {
    if (idle) await restartGateways();
    a = await phaseA();
    const st = a.st;
    out('');
    out(
      `## A: ${CLIENTS} clients (distinct users) looping a Python program (${A_LINES} timestamped lines, 20 ms apart) for ${SECONDS} s`,
    );
    out('');
    out(
      `connected ${a.connected}/${CLIENTS} in ${a.seconds.toFixed(1)} s; sockets per gateway (its own count): ${split(a.idle)}; by the balancer's cookie: ${a.cookies}`,
    );
    out('');
    out(
      '| runs completed | runs/s | run:start ack p50 / p95 / p99 (ms) | first output p50 / p95 / p99 | run:finished p50 / p95 / p99 | delivery latency p50 / p95 / p99 / max |',
    );
    out('|---|---|---|---|---|---|');
    out(
      `| ${st.completed} (+${st.completedInGrace} after the end) | ${(st.completed / SECONDS).toFixed(1)} | ${p3(summary(st.ack))} | ${p3(summary(st.firstOutput))} | ${p3(summary(st.finished))} | ${p4(summary(st.delivery))} |`,
    );
    out('');
    out(
      '| run:start sent | refusals (retried after retryAfterMs) | refusal retryAfterMs p50 / max | verdicts | errors | stuck runs | missing / duplicate chunks | OK runs short of lines | disconnects / reconnects |',
    );
    out('|---|---|---|---|---|---|---|---|---|');
    const rw = summary(st.refusalWaitMs);
    out(
      `| ${st.attempts} | ${counts(st.refusals)} | ${rw ? `${f(rw.p50)} / ${f(rw.max)}` : 'n/a'} | ${counts(st.verdicts)} | ${counts(st.errors)} | ${st.stuck.length} | ${st.missingChunks} / ${st.duplicateChunks} | ${st.shortRuns} | ${counts(st.disconnects)} / ${st.reconnects} |`,
    );
    const pos = summary(st.position);
    const expected = summary(st.busyExpectedMs);
    out('');
    out(
      `Backpressure: queue position at admission p50 / p95 / max ${pos ? `${pos.p50} / ${pos.p95} / ${pos.max}` : 'n/a'}; ` +
        `BUSY refusals gave an expected wait (details.expectedWaitMs) p50 / max ${expected ? `${f(expected.p50)} / ${f(expected.max)}` : 'n/a'} ms ` +
        `against BUSY_WAIT_MS ${serviceEnv.BUSY_WAIT_MS ?? 5000}; the admitted runs' first output came p95 ${f(summary(st.firstOutput)?.p95)} ms after run:start.`,
    );
    out('');
    out(`Stored results: ${stored(st.unstored)}.`);
    for (const s of st.stuck.slice(0, 5)) {
      out(
        `- stuck: run ${s.runId} (client on ${s.node}), started ${s.ageS.toFixed(1)} s before the end of the grace period, last seq seen ${s.lastSeq}, first output ${s.first === null ? 'none' : 'seen'}`,
      );
    }
    cpuTables.push(['A: the runs', a.cpuUse]);
  }
  if (PHASES.includes('b') && WATCHERS > 0) {
    if (a || idle) await restartGateways();
    b = await phaseB();
    out('');
    out(
      `## B: one run printing a timestamped line every 50 ms (${WATCH_LINES} lines) watched by ${WATCHERS} sockets`,
    );
    out('');
    out(
      `connected ${b.connected}/${WATCHERS} in ${b.seconds.toFixed(1)} s; sockets per gateway (its own count, watchers + the run's owner): ${split(b.idle)}; by the balancer's cookie: ${b.cookies}; ` +
        `all run:watch acks in ${b.watchSeconds.toFixed(1)} s (p50 / p95 / p99 / max ${p4(b.watchAck)} ms); then the owner let the program start printing (run:input)`,
    );
    out('');
    out(
      '| chunks (lines) | delivery latency, all watchers p50 / p95 / p99 / max (ms) | to the last of the watchers p50 / p95 / p99 / max | fan-out spread per chunk (last - first receipt) p50 / p95 / p99 / max | chunks missing (watchers affected, by gateway) | duplicates | via backlog | watchers without run:finished (by gateway) / with 2 | errors |',
    );
    out('|---|---|---|---|---|---|---|---|---|');
    out(
      `| ${b.lastSeq} (${b.lines}/${WATCH_LINES}) | ${p4(b.delivery)} | ${p4(b.lastArrival)} | ${p4(b.spread)} | ${b.missing} (${counts(b.watchersMissing)}) | ${b.duplicates} | ${b.viaBacklog} | ${counts(b.noFinished)} / ${b.finishedTwice} | ${counts(b.errors)} |`,
    );
    if (b.ownerMissing) out(`- the run's owner missed ${b.ownerMissing} chunk(s)`);
    out('');
    out(`Stored result: ${stored(b.unstored)}.`);
    cpuTables.push(['B: the run:watch burst', b.watchCpuUse], ['B: the output', b.cpuUse]);
  }
} catch (err) {
  out('');
  out(`**The benchmark itself failed:** ${err.stack}`);
}

if (idle) {
  out('');
  out(
    '## Gateway memory per idle connection (after a full GC in the gateway: `process.memoryUsage()` through its inspector)',
  );
  out('');
  out(
    '| gateway | state | sockets | RSS (MiB) | RSS per connection (KiB) | V8 heap used per connection (KiB) | external + array buffers per connection (KiB) |',
  );
  out('|---|---|---|---|---|---|---|');
  const rows = [
    ...idleRows('0 clients', idle.base, idle.base),
    ...idleRows(`${IDLE} idle, +2 s`, idle.early, idle.base),
    ...idleRows(`${IDLE} idle, +10 s`, idle.settled, idle.base),
  ];
  rows.sort((x, y) => x.slice(0, 6).localeCompare(y.slice(0, 6)));
  rows.forEach((r) => out(r));
}

if (a || b) {
  out('');
  out('## Gateway memory (RSS from /proc/<pid>/status; sockets and V8 heap in use from /metrics)');
  out('');
  out(
    '| gateway | state | sockets | RSS (MiB) | RSS delta vs 0 clients (MiB) | RSS delta per connection (KiB) | heap delta per connection (KiB) |',
  );
  out('|---|---|---|---|---|---|---|');
  const rows = [];

  if (a) {
    rows.push(...memoryRows('A: 0 clients', a.base, a.base));
    rows.push(...memoryRows(`A: ${CLIENTS} clients idle`, a.idle, a.base));
    rows.push(...memoryRows(`A: ${CLIENTS} clients busy (max RSS)`, a.busyEnd, a.base, a.busyMax));
  }
  if (b) {
    const tag = a ? 'B (restarted)' : 'B';
    rows.push(...memoryRows(`${tag}: 0 clients`, b.base, b.base));
    rows.push(...memoryRows(`${tag}: ${WATCHERS} watchers idle`, b.idle, b.base));
    rows.push(
      ...memoryRows(`${tag}: ${WATCHERS} watching (max RSS)`, b.watching, b.base, b.watchingMax),
    );
  }
  rows.sort((x, y) => x.slice(0, 6).localeCompare(y.slice(0, 6)));
  rows.forEach((r) => out(r));
}

if (cpuTables.length) {
  out('');
  out('## CPU (% of one core, averaged over the phase)');
  out('');
  out(`| process | ${cpuTables.map(([p]) => p).join(' | ')} |`);
  out(`|---|${cpuTables.map(() => '---|').join('')}`);
  for (const name of cpuTables[0][1].share.keys()) {
    out(
      `| ${name} | ${cpuTables.map(([, c]) => `${(100 * (c.share.get(name) ?? NaN)).toFixed(0)}%`).join(' | ')} |`,
    );
  }
  out(
    `| client event-loop delay p99 / max (ms) | ${cpuTables.map(([, c]) => `${f(c.loopP99)} / ${f(c.loopMax)}`).join(' | ')} |`,
  );
  for (const [p, c] of cpuTables) {
    const client = c.share.get('client (this process)');
    if (client > 0.85) {
      out(
        `- ${p}: the client process was the bottleneck (${(100 * client).toFixed(0)}% of a core, event-loop delay p99 ${f(c.loopP99)} ms): its latencies include its own queueing`,
      );
    } else if (c.loopP99 > 20) {
      out(
        `- ${p}: the client used ${(100 * client).toFixed(0)}% of a core, but its event loop waited for a CPU (delay p99 ${f(c.loopP99)} ms): the machine was contended, and the latencies above include up to that much of it`,
      );
    }
  }
}

out('');
out(
  `load average after: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
for (const e of unexpectedExits) out(`- **unexpected exit:** ${e}`);
await Promise.all([...children].map((c) => stop(c)));
out('');
out(`Warnings and errors in the services' logs (${LOG_DIR}):`);
for (const c of launched) {
  const l = logFindings(c);
  if (l) out(`- ${c.name}: ${l.n}${l.n ? ` (${l.top.join('; ')})` : ''}`);
}
process.exit(0);
