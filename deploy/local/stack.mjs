#!/usr/bin/env node
// Local Coderoom stack: installs what is missing, builds, starts Redis + FerretDB (+ dockerd
// when needed), then runs the app (start), the checks and tests (test) or just waits (infra).
// Node built-ins only: this runs before `npm install`. See README.md beside this file.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensureFerretdb } from './ferretdb.mjs';
import { LAUNCHED_BY, reexecOnPinnedNode } from './node-runtime.mjs';
import { requestRestart, startApp } from './app.mjs';
import { Supervisor } from './procs.mjs';
import { startServices } from './services.mjs';
import {
  buildSandboxImages,
  build,
  ensureDocker,
  ensureNpmDeps,
  ensurePackages,
} from './system.mjs';
import { LOCAL, REPO, StackError, dirs, log, mkdirp, paint } from './util.mjs';

const USAGE = `usage: node deploy/local/stack.mjs <start|cluster|restart|test|infra|bench> [--no-build] [jest args...]`;
const [mode, ...rest] = process.argv.slice(2);
const noBuild = rest[0] === '--no-build';
if (noBuild) rest.shift();
if (!['start', 'cluster', 'restart', 'test', 'infra', 'bench'].includes(mode)) {
  console.error(USAGE);
  process.exit(2);
}
const bench = process.env.BENCH || 'latency';
const BENCHES = [
  'latency',
  'load',
  'trace',
  'lifecycle',
  'slot-lifecycle',
  'rolling',
  'classroom',
  'feed',
];
if (mode === 'bench' && !BENCHES.includes(bench)) {
  console.error(`BENCH=${bench}: use BENCH=latency (the default), ${BENCHES.slice(1).join(', ')}`);
  process.exit(2);
}
// Everything runs on the production images' Node (deploy/docker/node-version.json): on an older
// one, this script runs again on the pinned Node, fetched once into .local/node/.
if (mode !== 'restart') {
  const code = await reexecOnPinnedNode(log);
  if (code !== null) process.exit(code);
}

// `test` and `bench` get their own lock and a fresh data directory, so they can run beside
// `start`. STACK_NAME names another start/cluster/infra stack of this checkout, with its own
// lock and data (.local/data/<name>/), e.g. for the tests of the cluster itself.
const isolated = mode === 'test' || mode === 'bench';
const stackName = process.env.STACK_NAME;
if (stackName !== undefined && !/^[a-z0-9][a-z0-9-]{0,30}$/.test(stackName)) {
  console.error(`STACK_NAME=${stackName}: use lower-case letters, digits and dashes`);
  process.exit(2);
}
const lockName = isolated ? mode : (stackName ?? 'dev');
if (mode === 'restart') {
  try {
    process.exit(await requestRestart(lockName));
  } catch (err) {
    log(paint('31', `error: ${err instanceof StackError ? err.message : err.stack}`));
    process.exit(1);
  }
}
const sup = new Supervisor(lockName, mode);
const dataDir = isolated ? path.join(dirs.data, mode) : path.join(dirs.data, stackName ?? '');
const supervised = mode === 'start' || mode === 'cluster' || mode === 'infra';
let app = null; // start/cluster: the running app, for rolling restarts

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
    // start/cluster: SIGHUP is a rolling restart (what an operator's deploy does), not a stop.
    if (sig === 'SIGHUP' && supervised && mode !== 'infra' && !exiting) {
      if (app) app.request();
      else log('SIGHUP: the app is not up yet; no rolling restart');
      return;
    }
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
// start/cluster/infra: a process that dies is started again (procs.mjs) and one in a restart
// storm is left stopped while the rest serves. test/bench: any unexpected exit ends the run.
sup.onUnexpectedExit = () => shutdown(1);
sup.onGiveUp = () => supervised || shutdown(1);

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
  const logTag = isolated ? `${mode}-` : stackName ? `${stackName}-` : '';
  const services = await startServices(sup, {
    ferretdbBin,
    dataDir,
    logTag,
    restart: supervised,
  });
  return { ...process.env, ...services, JWT_SECRET: jwtSecret() };
}

async function runApp(env) {
  app = await startApp(sup, env, { cluster: mode === 'cluster', lockName });
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
 * time of one run goes), `lifecycle` (lifecycle.mjs: one container per run without services),
 * `slot-lifecycle` (slot-lifecycle.mjs: the slot tier without services) or
 * `rolling` (rolling.mjs: a rolling restart of a `stack.mjs cluster` under load),
 * `classroom` (classroom.mjs: a session of 60 students and 5 dashboards on 2 gateways) or `feed`
 * (feed.mjs: a gateway's CPU per chunk with and without other gateways' runs).
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
  // Re-run on the pinned Node: jest by hand should run on it too (npm, node, jest from PATH).
  if (env[LAUNCHED_BY]) console.log(`export PATH=${path.dirname(process.execPath)}:$PATH`);
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
