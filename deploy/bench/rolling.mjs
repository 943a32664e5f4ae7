#!/usr/bin/env node
// Rolling restart under load (issue 18): BENCH_CLIENTS (20) socket.io clients, each a distinct
// user, loop a Python program printing BENCH_LINES (8) numbered lines through HAProxy of a
// `stack.mjs cluster` (long-polling first, then the upgrade, keeping the balancer's cookie).
// After BENCH_WARM_SECONDS (10) of that, `stack.mjs restart` restarts every gateway and then
// every worker one at a time; the clients go on for BENCH_AFTER_SECONDS (10) after it ended.
// A client cut off by a restart reconnects and resumes its run with run:watch { afterSeq }.
// Counted: failed runs (any verdict but OK, or output other than the program's), lost chunks
// (seq gaps and missing lines after resuming), stuck runs (no run:finished 60 s after the end,
// or not `finished` in MongoDB), refused starts (BUSY while a restart drains; retried).
//
// Starts its own cluster (`stack.mjs cluster --no-build`, STACK_NAME=bench-rolling) on the
// bench's REDIS_URL and MONGODB_URI: `BENCH=rolling node deploy/local/stack.mjs bench`.
// Or against a running one: BENCH_CLUSTER_URL=http://127.0.0.1:<port> BENCH_STACK_NAME=<name>.
// Prints Markdown; BENCH_JSON=<file> also writes the counts as JSON (the cluster test reads it).
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { launch } from '../local/launcher.mjs';
import { REPO, devToken, freePort, machine, pct, sleep, waitHttp } from './common.mjs';

const mongoose = createRequire(join(REPO, 'server/package.json'))('mongoose');
const env = process.env;
const num = (name, dflt) => Number(env[name] ?? dflt);
const CLIENTS = num('BENCH_CLIENTS', 20);
const LINES = num('BENCH_LINES', 8);
const WARM_SECONDS = num('BENCH_WARM_SECONDS', 10);
const AFTER_SECONDS = num('BENCH_AFTER_SECONDS', 10);
const STUCK_MS = 60_000;
const LOG_DIR = join(REPO, '.local/log/bench-rolling');

const program = (tag) =>
  `import time\nfor i in range(${LINES}):\n    print("${tag} %d" % i, flush=True)\n    time.sleep(0.1)\n`;
const expected = (tag) => Array.from({ length: LINES }, (_, i) => `${tag} ${i}\n`).join('');

// ---------------------------------------------------------------------------------------------
// The cluster

const portIsFree = (p) =>
  new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/** The first of `n` consecutive free ports (HAProxy and the gateways; the workers). */
async function freeRun(n) {
  for (;;) {
    const p = await freePort();
    if (p + n >= 65536) continue;
    const free = await Promise.all(Array.from({ length: n }, (_, i) => portIsFree(p + i)));
    if (free.every(Boolean)) return p;
  }
}

async function startCluster() {
  mkdirSync(LOG_DIR, { recursive: true });
  const port = await freeRun(3);
  const redis = new URL(env.REDIS_URL);
  redis.pathname = '/17';
  const logFile = join(LOG_DIR, 'stack.log');
  const proc = launch(
    'stack',
    process.execPath,
    [join(REPO, 'deploy/local/stack.mjs'), 'cluster', '--no-build'],
    {
      cwd: REPO,
      logFile,
      truncate: true,
      env: {
        ...env,
        STACK_NAME: 'bench-rolling',
        PORT: String(port),
        WORKER_HTTP_PORT: String(await freeRun(2)),
        REDIS_URL: redis.toString(),
        LOG_LEVEL: 'warn',
        RUN_QUOTAS: JSON.stringify({ student: { perMinute: 100000, perDay: 1000000 } }),
      },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitHttp(`${url}/health`, 180_000)) || proc.done) {
    await proc.stop();
    throw new Error(`the cluster did not start; see ${logFile}`);
  }
  return { url, name: 'bench-rolling', stop: () => proc.stop({ graceMs: 150_000 }) };
}

/** `stack.mjs restart` for the stack `name`; resolves its duration in ms (throws if it failed). */
async function rollingRestart(name) {
  const t0 = performance.now();
  const lines = [];
  const proc = launch(
    'restart',
    process.execPath,
    [join(REPO, 'deploy/local/stack.mjs'), 'restart'],
    {
      cwd: REPO,
      env: { ...env, STACK_NAME: name, NO_COLOR: '1' },
      onLine: (l) => lines.push(l),
    },
  );
  await proc.exited;
  if (proc.code !== 0) throw new Error(`stack.mjs restart failed:\n${lines.join('\n')}`);
  return { ms: performance.now() - t0, lines };
}

// ---------------------------------------------------------------------------------------------
// Clients

const st = {
  completed: 0,
  failed: [],
  lostChunks: 0,
  missingLines: 0,
  duplicateChunks: 0,
  refusals: {},
  errors: {},
  reconnects: 0,
  resumed: 0,
  stuck: [],
  runIds: [],
  /** Per run, the longest wait for its next chunk (the first one's counted from run:start). */
  gaps: [],
};
const inc = (o, k) => (o[k] = (o[k] ?? 0) + 1);

function connect(url, token) {
  return new Promise((resolve, reject) => {
    const s = io(url, {
      auth: { token },
      forceNew: true,
      withCredentials: true, // the balancer's cookie: long-polling needs stickiness
      reconnectionDelay: 200,
      reconnectionDelayMax: 1000,
    });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

class Client {
  run = null;

  constructor(s, i) {
    this.s = s;
    this.i = i;
    // Until the ack names the run, its first events are kept (they may come first).
    s.on('run:output', (c) => {
      if (this.run?.runId === null) this.run.early.push(['output', c]);
      else if (this.run?.runId === c.runId) this.take(c);
    });
    s.on('run:finished', (e) => {
      if (this.run?.runId === null) this.run.early.push(['finished', e]);
      else if (this.run?.runId === e.runId) this.end(e.verdict);
    });
    // Every (re)connection after the first: resume the run in flight from the last seq held.
    s.io.on('reconnect', () => {
      st.reconnects++;
      const r = this.run;
      if (!r?.runId) return;
      st.resumed++;
      s.emit('run:watch', { runId: r.runId, afterSeq: r.lastSeq }, (ack) => {
        if (!ack?.ok) return void inc(st.errors, `run:watch ${ack?.error?.code}`);
        for (const c of ack.backlog) this.take(c);
        if (ack.run.status === 'finished') this.end(ack.run.result?.verdict ?? '?');
      });
    });
  }

  take(c) {
    const r = this.run;
    if (c.seq <= r.lastSeq) return void st.duplicateChunks++;
    if (c.seq !== r.lastSeq + 1) st.lostChunks += c.seq - r.lastSeq - 1;
    const now = performance.now();
    r.maxGap = Math.max(r.maxGap, now - r.lastAt);
    r.lastAt = now;
    r.lastSeq = c.seq;
    r.text += c.data;
  }

  end(verdict) {
    const r = this.run;
    if (!r || r.ended) return;
    r.ended = true;
    if (verdict !== 'OK' || r.text !== expected(r.tag)) {
      st.failed.push(`${r.runId}: ${verdict}, output ${JSON.stringify(r.text.slice(-60))}`);
    }
    // Lines of the program's output that never reached the client (a lost last chunk too).
    const got = new Set(r.text.split('\n'));
    st.missingLines += expected(r.tag)
      .split('\n')
      .filter((l) => l && !got.has(l)).length;
    st.gaps.push(r.maxGap);
    st.completed++;
    r.resolve();
  }

  /** One run to its end; false if it was refused (then retried by the loop). */
  async once(n) {
    const tag = `c${this.i}r${n}`;
    const r = { tag, runId: null, early: [], lastSeq: 0, text: '', maxGap: 0 };
    r.lastAt = performance.now();
    const done = new Promise((resolve) => (r.resolve = resolve));
    this.run = r;
    let ack;
    try {
      ack = await this.s
        .timeout(20_000)
        .emitWithAck('run:start', { language: 'python', source: program(tag) });
    } catch {
      ack = { ok: false, error: { code: 'ACK_TIMEOUT' } };
    }
    if (!ack.ok) {
      this.run = null;
      inc(st.refusals, ack.error.code);
      await sleep(Math.min(ack.error.retryAfterMs ?? 500, 2000));
      return;
    }
    r.runId = ack.runId;
    st.runIds.push(ack.runId);
    for (const [kind, x] of r.early.filter(([, x]) => x.runId === r.runId)) {
      if (kind === 'output') this.take(x);
      else this.end(x.verdict);
    }
    const ended = await Promise.race([done.then(() => true), sleep(STUCK_MS).then(() => false)]);
    if (!ended) st.stuck.push(`${r.runId}: no run:finished within ${STUCK_MS / 1000} s`);
    this.run = null;
  }

  async loop(until) {
    for (let n = 0; !until(); n++) await this.once(n);
  }
}

/**
 * Of the runs the clients started, those MongoDB does not hold as finished 30 s later: the ones
 * they know, and any a cut-off `run:start` created without its ack reaching the client.
 */
async function notStored(uri, ids) {
  const conn = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 5000 }).asPromise();
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const bad = await conn.db
        .collection('runs')
        .find({
          $or: [{ _id: { $in: ids } }, { ownerName: { $regex: '^roll-' } }],
          status: { $ne: 'finished' },
        })
        .project({ status: 1 })
        .toArray();
      if (!bad.length || Date.now() > deadline) return bad.map((d) => `${d._id} (${d.status})`);
      await sleep(500);
    }
  } finally {
    await conn.close();
  }
}

// ---------------------------------------------------------------------------------------------

const cluster = env.BENCH_CLUSTER_URL
  ? { url: env.BENCH_CLUSTER_URL, name: env.BENCH_STACK_NAME ?? 'dev', stop: async () => {} }
  : await startCluster();
let result;
try {
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const s = await connect(cluster.url, await devToken(cluster.url, `roll-${i}`, 'student'));
      return new Client(s, i);
    }),
  );
  let stopping = false;
  const loops = clients.map((c) => c.loop(() => stopping));
  await sleep(WARM_SECONDS * 1000);
  const before = st.completed;
  const restart = await rollingRestart(cluster.name);
  const during = st.completed - before;
  await sleep(AFTER_SECONDS * 1000);
  stopping = true;
  await Promise.all(loops);
  clients.forEach((c) => c.s.close());
  const mongoUri = env.BENCH_MONGODB_URI ?? env.MONGODB_URI;
  const unstored = mongoUri ? await notStored(mongoUri, st.runIds) : ['(MONGODB_URI not set)'];
  result = {
    clients: CLIENTS,
    runs: st.completed,
    runsDuringRestart: during,
    restartSeconds: restart.ms / 1000,
    failedRuns: st.failed.length,
    lostChunks: st.lostChunks,
    missingLines: st.missingLines,
    duplicateChunks: st.duplicateChunks,
    stuckRuns: st.stuck.length + unstored.length,
    reconnects: st.reconnects,
    resumedRuns: st.resumed,
    refusals: st.refusals,
    errors: st.errors,
    longestGapMs: Math.max(0, ...st.gaps),
    gapP99Ms: pct(st.gaps, 99) ?? 0,
    problems: [...st.failed, ...st.stuck, ...unstored.map((u) => `not finished in MongoDB: ${u}`)],
    restartLog: restart.lines,
  };
} finally {
  await cluster.stop();
}

const day = new Date().toISOString().slice(0, 10);
console.log(`# Rolling restart under load: ${day}; machine: ${machine()}`);
console.log(
  `# ${CLIENTS} clients looping a ${LINES}-line Python program (0.1 s a line) through HAProxy; ` +
    `${WARM_SECONDS} s, then \`stack.mjs restart\`, then ${AFTER_SECONDS} s`,
);
console.log('');
console.log(
  '| runs | during the restart | restart took | failed runs | lost chunks (missing lines) | stuck runs | reconnects (runs resumed) | refused starts | longest wait for a chunk |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
const refused =
  Object.entries(result.refusals)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || '0';
console.log(
  `| ${result.runs} | ${result.runsDuringRestart} | ${result.restartSeconds.toFixed(1)} s | ${result.failedRuns} | ${result.lostChunks} (${result.missingLines}) | ${result.stuckRuns} | ${result.reconnects} (${result.resumedRuns}) | ${refused} | ${(result.longestGapMs / 1000).toFixed(2)} s |`,
);
if (Object.keys(result.errors).length) console.log(`\nerrors: ${JSON.stringify(result.errors)}`);
for (const p of result.problems.slice(0, 20)) console.log(`- ${p}`);
console.log(`\nthe restart, as \`stack.mjs restart\` printed it:\n`);
for (const l of result.restartLog) console.log(`    ${l}`);
if (env.BENCH_JSON) writeFileSync(env.BENCH_JSON, JSON.stringify(result, null, 2));
