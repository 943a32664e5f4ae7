#!/usr/bin/env node
// Local Coderoom stack: installs what is missing, builds, starts Redis + FerretDB (+ dockerd
// when needed), then runs the app (start), the checks and tests (test) or just waits (infra).
// Node built-ins only: this runs before `npm install`. See README.md beside this file.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { hostname } from 'node:os';
import { ensureFerretdb } from './ferretdb.mjs';
import { haproxyConfig } from './haproxy.mjs';
import { Supervisor } from './procs.mjs';
import { startServices } from './services.mjs';
import {
  buildSandboxImages,
  build,
  ensureDocker,
  ensureNpmDeps,
  ensurePackages,
} from './system.mjs';
import { LOCAL, REPO, StackError, dirs, log, mkdirp, paint, portFree, waitFor } from './util.mjs';

const USAGE = `usage: node deploy/local/stack.mjs <start|cluster|test|infra|bench> [--no-build] [jest args...]`;
const [mode, ...rest] = process.argv.slice(2);
const noBuild = rest[0] === '--no-build';
if (noBuild) rest.shift();
if (!['start', 'cluster', 'test', 'infra', 'bench'].includes(mode)) {
  console.error(USAGE);
  process.exit(2);
}
const bench = process.env.BENCH || 'latency';
if (mode === 'bench' && !['latency', 'load', 'trace', 'lifecycle', 'classroom'].includes(bench)) {
  console.error(
    `BENCH=${bench}: use BENCH=latency (the default), BENCH=load, BENCH=trace, BENCH=lifecycle or BENCH=classroom`,
  );
  process.exit(2);
}

// `test` gets its own lock and a fresh data directory, so it can run beside `start`.
// `test` and `bench` get their own lock and a fresh data directory, so they can run beside `start`.
const isolated = mode === 'test' || mode === 'bench';
const sup = new Supervisor(isolated ? mode : 'dev', mode);
const dataDir = isolated ? path.join(dirs.data, mode) : dirs.data;

let exiting = null;
let firstSignalAt = 0;
function shutdown(code) {
  exiting ??= sup.stopAll().then(
    () => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(code || 1);
    },
  );
  return exiting;
}
for (const [sig, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
]) {
  process.on(sig, () => {
    // `npm start` forwards the Ctrl-C it gets too: report repeats only if they are not echoes.
    if (exiting && Date.now() - firstSignalAt > 1000) log(`${sig}: already stopping ...`);
    if (!exiting) {
      firstSignalAt = Date.now();
      log(`${sig}: stopping ...`);
    }
    shutdown(code);
  });
}
process.on('exit', () => sup.stopAllSync());
sup.onUnexpectedExit = (p) => {
  log(
    paint('31', `${p.name} (pid ${p.pid}) exited unexpectedly (${p.signal ?? `code ${p.code}`})`),
  );
  shutdown(1);
};

/** Until a signal or an unexpected exit ends the process (the timer keeps the loop alive). */
const forever = () => new Promise(() => setInterval(() => {}, 1 << 30));

function jwtSecret() {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  const file = path.join(LOCAL, 'jwt-secret');
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, crypto.randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  return fs.readFileSync(file, 'utf8').trim();
}

async function setup() {
  mkdirp(LOCAL);
  await sup.acquire();
  await ensurePackages(sup);
  await ensureNpmDeps(sup);
  if (noBuild) log('build: skipped (--no-build)');
  else await build(sup);
  await ensureDocker(sup);
  await buildSandboxImages(sup, process.env);
  const ferretdbBin = process.env.MONGODB_URI ? null : await ensureFerretdb(sup);
  if (isolated) fs.rmSync(dataDir, { recursive: true, force: true });
  const logTag = isolated ? `${mode}-` : '';
  const services = await startServices(sup, { ferretdbBin, dataDir, logTag });
  return { ...process.env, ...services, JWT_SECRET: jwtSecret() };
}

/**
 * `start`: one gateway and one worker. `cluster`: GATEWAYS gateways (default 2) behind HAProxy
 * with sticky sessions on PORT, and WORKERS workers (default 2), like production on one machine.
 */
async function runApp(env) {
  const cluster = mode === 'cluster';
  const port = Number(process.env.PORT || 3000);
  const gateways = cluster ? Number(process.env.GATEWAYS || 2) : 1;
  const workers = cluster ? Number(process.env.WORKERS || 2) : 1;
  const gatewayPorts = cluster ? Array.from({ length: gateways }, (_, i) => port + 1 + i) : [port];
  for (const p of [port, ...gatewayPorts]) {
    if (!(await portFree(p))) throw new StackError(`port ${p} is in use; set PORT=<free port>`);
  }
  Object.assign(env, {
    DEV_TOKENS: 'true',
    STATIC_DIR: path.join(REPO, 'client', 'web', 'dist'),
  });
  const node = process.execPath;
  const app = (name, main, color, extra) =>
    sup.spawn(name, node, [path.join(REPO, main)], {
      kind: 'app',
      env: { ...env, ...extra },
      cwd: REPO,
      prefix: paint(color, `[${name}]`),
    });
  const started = gatewayPorts.map((p, i) =>
    app(cluster ? `gateway-${i}` : 'gateway', 'server/dist/src/main.js', '35', { PORT: String(p) }),
  );
  for (let i = 0; i < workers; i++) {
    app(cluster ? `worker-${i}` : 'worker', 'worker/dist/src/main.js', '33', {
      WORKER_ID: `${hostname()}-${i}`,
      WORKER_HTTP_PORT: String(9464 + i),
    });
  }
  if (cluster) {
    const cfg = path.join(LOCAL, 'run', 'haproxy.cfg');
    mkdirp(path.dirname(cfg));
    fs.writeFileSync(cfg, haproxyConfig(port, gatewayPorts));
    sup.spawn('haproxy', 'haproxy', ['-db', '-f', cfg], {
      kind: 'app',
      env,
      cwd: REPO,
      prefix: paint('36', '[haproxy]'),
    });
  }
  const health = async () => {
    try {
      return (await fetch(`http://127.0.0.1:${port}/health`)).status === 200;
    } catch {
      return false;
    }
  };
  await waitFor('gateway /health', health, {
    timeoutMs: 60000,
    intervalMs: 300,
    abort: () => started.some((g) => g.done) && 'a gateway exited',
  });
  const url = `http://localhost:${port}`;
  const line = '='.repeat(url.length + 24);
  const what = cluster ? `\n  ${gateways} gateways behind HAProxy, ${workers} workers` : '';
  console.log(
    `\n${line}\n  Coderoom is running: ${paint('1;32', url)}${what}\n  Ctrl-C to stop\n${line}\n`,
  );
  return forever();
}

async function runTests(env) {
  const check = await sup.run('npm run check', 'npm', ['run', 'check'], { cwd: REPO, env });
  if (check !== 0) log(paint('31', `npm run check failed (exit ${check}); running jest anyway`));
  const jest = await sup.run('jest', 'npm', ['run', 'jest', '--', ...rest], { cwd: REPO, env });
  log(`jest exited with code ${jest}`);
  return jest !== 0 ? jest : check !== 0 ? 1 : 0;
}

/**
 * Benchmarks (deploy/bench) against the local services; prints Markdown tables. BENCH picks one:
 * `latency` (default, latency.mjs), `load` (load.mjs, issue 4), `trace` (trace.mjs: where the
 * time of one run goes), `lifecycle` (lifecycle.mjs: one container per run without services) or
 * `classroom` (classroom.mjs: a session of 60 students and 5 dashboards on 2 gateways).
 */
async function runBench(env) {
  return sup.run('bench', process.execPath, [path.join(REPO, `deploy/bench/${bench}.mjs`)], {
    cwd: REPO,
    env,
  });
}

function runInfra(env) {
  const keys = ['REDIS_URL', 'MONGODB_URI', 'JWT_SECRET'];
  console.log(`\n# infrastructure is up; for jest by hand, in another shell:`);
  for (const k of keys) console.log(`export ${k}=${env[k]}`);
  console.log(`# Ctrl-C here to stop\n`);
  return forever();
}

let code = 1;
try {
  const env = await setup();
  code = await { start: runApp, cluster: runApp, test: runTests, infra: runInfra, bench: runBench }[
    mode
  ](env);
} catch (err) {
  if (!exiting) log(paint('31', `error: ${err instanceof StackError ? err.message : err.stack}`));
  code = 1;
} finally {
  await shutdown(code);
}
