#!/usr/bin/env node
// Feed fan-in benchmark (issue 15): does a gateway pay for the output of runs it does not serve?
// Starts BENCH_GATEWAYS (4) gateways and one worker (no balancer: each client connects to a
// chosen gateway). Gateway 0 serves one run (its owner's socket); the other gateways serve
// BENCH_NOISE "noise" runs that print much more. For each noise level (0, then BENCH_NOISE) it
// reports each gateway's CPU time over the served run's output window and per chunk it
// delivered: gateway 0's CPU per chunk must not grow with the noise elsewhere.
//
// Needs REDIS_URL and MONGODB_URI: `BENCH=feed node deploy/local/stack.mjs bench`. BENCH_REPO
// names another checkout whose built server/dist and worker/dist to start instead (e.g. the
// code before a change, for an A/B). Prints Markdown; services log to .local/log/bench-feed/.
import { mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { launch } from '../local/launcher.mjs';
import { REPO, devToken, freePort, machine, num, sleep, waitHttp } from './common.mjs';

const env = process.env;
for (const v of ['REDIS_URL', 'MONGODB_URI']) {
  if (!env[v]) throw new Error(`${v} is not set: run BENCH=feed node deploy/local/stack.mjs bench`);
}
const GATEWAYS = Math.max(2, num('BENCH_GATEWAYS', 4));
const NOISE = num('BENCH_NOISE', 6);
const SECONDS = num('BENCH_SECONDS', 10);
const ROUNDS = Math.max(1, num('BENCH_ROUNDS', 2));
const CODE = env.BENCH_REPO ?? REPO;
const LOG_DIR = env.BENCH_LOG_DIR ?? join(REPO, '.local/log/bench-feed');
const CLK_TCK = 100; // USER_HZ of /proc/<pid>/stat

/** Prints `lines` lines of `width` characters, one every `ms`, after a line on stdin. */
const program = (lines, width, ms) => `import sys, time
sys.stdin.readline()
for i in range(${lines}):
    print("%06d " % i + "x" * ${width}, flush=True)
    time.sleep(${ms / 1000})
`;
// The served run: a line every 20 ms for SECONDS (~50 chunks/s). Noise: 1 KiB lines every 10 ms
// (the coalescer sends at most one chunk per 15 ms: ~65 chunks/s, ~70 KiB/s each), for longer.
const SERVED = program(Math.round((SECONDS * 1000) / 20), 40, 20);
const NOISY = program(Math.round(((SECONDS + 8) * 1000) / 10), 1024, 10);

const redisUrl = new URL(env.REDIS_URL);
if (redisUrl.pathname.length <= 1) redisUrl.pathname = '/44';
const serviceEnv = {
  ...env,
  REDIS_URL: redisUrl.toString(),
  JWT_SECRET: 'bench-feed-secret-0123456789abcdef',
  DEV_TOKENS: 'true',
  HOST: '127.0.0.1',
  LOG_LEVEL: env.BENCH_LOG_LEVEL ?? 'warn',
  WORKER_CONCURRENCY: String(NOISE + 2),
  WARM_POOL_SIZE: '0',
  WORKER_HTTP_HOST: '127.0.0.1',
  RUN_WALL_MS: String((SECONDS + 30) * 1000),
  RUN_CPU_MS: String((SECONDS + 30) * 1000),
  OUTPUT_LIMIT_BYTES: String(4 * 2 ** 20), // a noise run prints ~100 KiB/s
  RUN_QUOTAS: JSON.stringify({ admin: { perMinute: 100000, perDay: 1000000, concurrent: 64 } }),
  BUSY_WAIT_MS: '600000',
};

const procs = [];
process.on('exit', () => procs.forEach((p) => p.send('SIGKILL')));

function start(name, file, extra) {
  const p = launch(name, process.execPath, [join(CODE, file)], {
    cwd: CODE,
    env: { ...serviceEnv, ...extra },
    logFile: join(LOG_DIR, `${name}.log`),
    truncate: true,
  });
  procs.push(p);
  return p;
}

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function connect(url, token) {
  return new Promise((resolve, reject) => {
    const s = io(url, { auth: { token }, forceNew: true, transports: ['websocket'] });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

/** Starts an interactive run on `s` and counts what that socket receives of it. */
async function startRun(s, source) {
  const run = { chunks: 0, firstAt: 0, finishedAt: 0, id: '' };
  s.on('run:output', (c) => {
    if (c.runId !== run.id) return;
    run.chunks++;
    run.firstAt ||= performance.now();
  });
  s.on('run:finished', (e) => e.runId === run.id && (run.finishedAt = performance.now()));
  const ack = await s
    .timeout(30000)
    .emitWithAck('run:start', { language: 'python', source, interactive: true });
  if (!ack.ok) throw new Error(`run:start: ${JSON.stringify(ack)}`);
  run.id = ack.runId;
  run.go = () => s.timeout(30000).emitWithAck('run:input', { runId: run.id, data: 'go\n' });
  return run;
}

const until = async (what, check, ms = 60000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

async function cell(gw, sockets, noise) {
  // Noise runs on gateways 1.. (round robin), printing before and after the measured window.
  const noisy = [];
  for (let i = 0; i < noise; i++)
    noisy.push(await startRun(sockets[1 + (i % (GATEWAYS - 1))], NOISY));
  const served = await startRun(sockets[0], SERVED);
  await Promise.all(noisy.map((r) => r.go()));
  await until('noise output', () => noisy.every((r) => r.chunks > 0));
  const cpu0 = gw.map((g) => cpuSeconds(g.pid));
  const noise0 = noisy.map((r) => r.chunks);
  await served.go();
  await until('the served run to finish', () => served.finishedAt > 0, (SECONDS + 60) * 1000);
  const cpu1 = gw.map((g) => cpuSeconds(g.pid));
  const stillNoisy = noisy.every((r) => r.finishedAt === 0);
  const noiseChunks = noisy.map((r, i) => r.chunks - noise0[i]);
  await until('the noise runs to finish', () => noisy.every((r) => r.finishedAt > 0), 120000);
  const wall = (served.finishedAt - served.firstAt) / 1000;
  const perGateway = gw.map((_, i) => {
    const chunks =
      i === 0
        ? served.chunks
        : noiseChunks.filter((_, j) => 1 + (j % (GATEWAYS - 1)) === i).reduce((a, b) => a + b, 0);
    return { cpuMs: (cpu1[i] - cpu0[i]) * 1000, chunks };
  });
  return { noise, wall, stillNoisy, perGateway };
}

async function main() {
  mkdirSync(LOG_DIR, { recursive: true });
  const ports = [];
  for (let i = 0; i < GATEWAYS; i++) ports.push(await freePort());
  const gw = ports.map((port, i) =>
    start(`gateway-${i}`, 'server/dist/src/main.js', { PORT: String(port) }),
  );
  const workerPort = await freePort();
  start('worker', 'worker/dist/src/main.js', {
    WORKER_ID: 'bench-feed',
    WORKER_HTTP_PORT: String(workerPort),
  });
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  for (const url of [...urls, `http://127.0.0.1:${workerPort}`]) {
    if (!(await waitHttp(`${url}/ready`, 60000)))
      throw new Error(`${url} is not ready (${LOG_DIR})`);
  }
  const token = await devToken(urls[0], 'bench-feed', 'admin');
  const sockets = await Promise.all(urls.map((u) => connect(u, token)));
  // Warm-up: Python's image and the services' code paths.
  const warm = await startRun(sockets[0], program(5, 10, 10));
  await warm.go();
  await until('the warm-up run', () => warm.finishedAt > 0);

  const rows = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const noise of [0, NOISE]) rows.push(await cell(gw, sockets, noise));
  }
  sockets.forEach((s) => s.disconnect());
  await Promise.all(procs.map((p) => p.stop({ graceMs: 20000 })));

  let commit = '?';
  try {
    const head = readFileSync(join(CODE, '.git/HEAD'), 'utf8').trim();
    commit = head.startsWith('ref:') ? head : head.slice(0, 7);
  } catch {
    /* a checkout without .git (git archive) */
  }
  console.log(
    `\n## Feed fan-in: ${new Date().toISOString()}, ${machine()}, load ${loadavg()[0].toFixed(2)}`,
  );
  console.log(
    `code: ${CODE} (${commit}); ${GATEWAYS} gateways, 1 worker; served run on gateway 0,`,
  );
  console.log(
    `noise runs on gateways 1-${GATEWAYS - 1}; window: the served run's first output to its run:finished\n`,
  );
  const head = ['noise runs', 'window (s)', 'gateway 0: chunks, CPU ms, µs/chunk'];
  for (let i = 1; i < GATEWAYS; i++) head.push(`gateway ${i}: chunks, CPU ms`);
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const r of rows) {
    const g0 = r.perGateway[0];
    const cells = [
      `${r.noise}${r.stillNoisy ? '' : ' (ended early)'}`,
      r.wall.toFixed(1),
      `${g0.chunks}, ${g0.cpuMs.toFixed(0)}, ${((g0.cpuMs * 1000) / g0.chunks).toFixed(0)}`,
      ...r.perGateway.slice(1).map((g) => `${g.chunks}, ${g.cpuMs.toFixed(0)}`),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
