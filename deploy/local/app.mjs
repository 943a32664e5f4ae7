// The app of `stack.mjs start` and `stack.mjs cluster`: gateways, workers and (cluster) HAProxy
// as supervised units, and the rolling restart that SIGHUP or `stack.mjs restart` asks for.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { haproxyCommand, haproxyConfig, haproxyServerStatus } from './haproxy.mjs';
import { localSlotSockets } from './service-args.mjs';
import { REPO, StackError, dirs, log, mkdirp, paint, portFree, waitFor } from './util.mjs';

/** A gateway drains its sockets at once; a worker finishes its runs in flight (each bounded). */
const GATEWAY_GRACE_MS = 30_000;
const WORKER_GRACE_MS = 120_000;
const READY_TIMEOUT_MS = 60_000;

const httpOk = async (url) => {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
};

/** Unix socket paths are limited to 108 bytes: fall back to the temp dir for deep checkouts. */
function adminSocketPath(lockName) {
  const inRun = path.join(dirs.run, `${lockName}-haproxy.sock`);
  return inRun.length < 100
    ? inRun
    : path.join(os.tmpdir(), `coderoom-${process.pid}-haproxy.sock`);
}

/**
 * Starts the app. `start`: one gateway on PORT and one worker. `cluster`: GATEWAYS gateways
 * (default 2) on PORT+1... behind HAProxy on PORT with sticky sessions, and WORKERS workers
 * (default 2). Every process is a supervised unit (restarted when it dies, see procs.mjs).
 * Worker i serves its /health, /ready and /metrics on WORKER_HTTP_PORT (default 9464) + i.
 */
export async function startApp(sup, env, { cluster, lockName }) {
  const port = Number(process.env.PORT || 3000);
  const gatewayCount = cluster ? Number(process.env.GATEWAYS || 2) : 1;
  const workerCount = cluster ? Number(process.env.WORKERS || 2) : 1;
  const workerPortBase = Number(process.env.WORKER_HTTP_PORT || 9464);
  // Gateway i serves Prometheus metrics on GATEWAY_METRICS_PORT (default 9400) + i only.
  const metricsPortBase = Number(process.env.GATEWAY_METRICS_PORT || 9400);
  const gatewayPorts = cluster
    ? Array.from({ length: gatewayCount }, (_, i) => port + 1 + i)
    : [port];
  const workerPorts = Array.from({ length: workerCount }, (_, i) => workerPortBase + i);
  const metricsPorts = gatewayPorts.map((_, i) => metricsPortBase + i);
  for (const p of [...new Set([port, ...gatewayPorts]), ...workerPorts, ...metricsPorts]) {
    if (!(await portFree(p))) {
      throw new StackError(
        `port ${p} is in use; set PORT=<free port> / WORKER_HTTP_PORT / GATEWAY_METRICS_PORT`,
      );
    }
  }
  Object.assign(env, {
    DEV_TOKENS: 'true',
    STATIC_DIR: path.join(REPO, 'client', 'web', 'dist'),
    // The fast tier by default here (issue 15: the hostile corpus passes on it, server/test/
    // hostile.e2e.spec.ts); the workers' own default, for deployments, stays `container`.
    SANDBOX_TIER: env.SANDBOX_TIER || 'slot',
    // Slots' frames over a socket of their own rather than the attach stream (~2 ms less per run
    // on the path of the first output); SANDBOX_SLOT_SOCKETS= (empty) keeps the attach stream.
    SANDBOX_SLOT_SOCKETS: localSlotSockets(env),
  });
  const node = process.execPath;
  const unit = (name, main, color, extra) =>
    sup.spawn(name, node, [path.join(REPO, main)], {
      kind: 'app',
      env: { ...env, ...extra },
      cwd: REPO,
      prefix: paint(color, `[${name}]`),
      restart: true,
    });
  const gateways = gatewayPorts.map((p, i) => ({
    unit: unit(cluster ? `gateway-${i}` : 'gateway', 'server/dist/src/main.js', '35', {
      PORT: String(p),
      METRICS_PORT: String(metricsPorts[i]),
    }),
    ready: `http://127.0.0.1:${p}/ready`,
  }));
  const workers = workerPorts.map((p, i) => ({
    unit: unit(cluster ? `worker-${i}` : 'worker', 'worker/dist/src/main.js', '33', {
      WORKER_ID: `${os.hostname()}-${i}`,
      WORKER_HTTP_PORT: String(p),
    }),
    ready: `http://127.0.0.1:${p}/ready`,
  }));
  let adminSocket = null;
  if (cluster) {
    adminSocket = adminSocketPath(lockName);
    fs.rmSync(adminSocket, { force: true });
    const cfg = path.join(
      mkdirp(dirs.run),
      `${lockName === 'dev' ? '' : `${lockName}-`}haproxy.cfg`,
    );
    fs.writeFileSync(cfg, haproxyConfig(port, gatewayPorts, { adminSocket }));
    sup.spawn('haproxy', 'haproxy', ['-db', '-f', cfg], {
      kind: 'app',
      env,
      cwd: REPO,
      prefix: paint('36', '[haproxy]'),
      restart: true,
    });
  }
  await waitFor('gateway /health', () => httpOk(`http://127.0.0.1:${port}/health`), {
    timeoutMs: 60000,
    intervalMs: 300,
    abort: () => gateways.some((g) => g.unit.gaveUp) && 'a gateway keeps exiting',
  });
  if (adminSocket) {
    // The balancer answering is not enough: a gateway HAProxy still counts as down gets no
    // clients, and the first users (or a test's clients) would all land on the others.
    for (const [i, g] of gateways.entries()) {
      await waitFor(
        `HAProxy to count gateway-${i} in`,
        async () => (await haproxyServerStatus(adminSocket, i).catch(() => '')) === 'UP',
        { timeoutMs: 60000, intervalMs: 200, abort: () => g.unit.gaveUp && 'it keeps exiting' },
      );
    }
  }
  const url = `http://localhost:${port}`;
  const line = '='.repeat(url.length + 24);
  const what =
    (cluster ? `\n  ${gatewayCount} gateways behind HAProxy, ${workerCount} workers` : '') +
    `\n  sandbox tier: ${env.SANDBOX_TIER}` +
    (env.SANDBOX_TIER === 'slot' ? ' (SANDBOX_TIER=container: one container per run)' : '');
  console.log(
    `\n${line}\n  Coderoom is running: ${paint('1;32', url)}${what}\n  Ctrl-C to stop, ` +
      `\`node deploy/local/stack.mjs restart\` (or SIGHUP) for a rolling restart\n${line}\n`,
  );
  return new RollingRestart(sup, { gateways, workers, adminSocket });
}

/**
 * Restarts the gateways one at a time (taken out of HAProxy's rotation, drained by SIGTERM,
 * started again, back on /ready and in rotation before the next), then the workers the same
 * way (a worker drains by finishing its runs in flight). Progress goes to the state file
 * (`rolling`), where `stack.mjs restart` reads it. A request during a restart queues one more.
 */
class RollingRestart {
  count = 0;
  running = null;
  again = false;

  constructor(sup, parts) {
    this.sup = sup;
    this.parts = parts;
  }

  request() {
    if (this.running) {
      this.again = true;
      log('rolling restart: one is under way; another one follows it');
      return;
    }
    this.running = this.run().finally(() => {
      this.running = null;
      if (this.again && !this.sup.stopping) {
        this.again = false;
        this.request();
      }
    });
  }

  report(fields) {
    this.sup.status.rolling = { ...this.sup.status.rolling, ...fields };
    this.sup.save();
  }

  async run() {
    const n = ++this.count;
    const t0 = Date.now();
    const steps = [];
    this.report({ n, state: 'running', startedAt: t0, steps, error: null });
    log(paint('1', `rolling restart ${n}: gateways one by one, then workers`));
    try {
      const { gateways, workers, adminSocket } = this.parts;
      for (const [i, g] of gateways.entries()) {
        const t = Date.now();
        // Out of rotation first: cookie-pinned clients that reconnect go to another node.
        if (adminSocket) await haproxyCommand(adminSocket, `set server gateways/g${i} state maint`);
        await this.replace(g, GATEWAY_GRACE_MS);
        if (adminSocket) {
          await haproxyCommand(adminSocket, `set server gateways/g${i} state ready`);
          await waitFor(`haproxy to put g${i} back in rotation`, async () =>
            (await haproxyServerStatus(adminSocket, i)).startsWith('UP'),
          );
        }
        steps.push({ name: g.unit.name, pid: g.unit.pid, ms: Date.now() - t });
        this.report({ steps });
      }
      for (const w of workers) {
        const t = Date.now();
        await this.replace(w, WORKER_GRACE_MS);
        steps.push({ name: w.unit.name, pid: w.unit.pid, ms: Date.now() - t });
        this.report({ steps });
      }
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      log(paint('32', `rolling restart ${n}: done in ${secs} s`));
      this.report({ state: 'done', finishedAt: Date.now() });
    } catch (err) {
      const msg = err instanceof StackError ? err.message : String(err?.stack ?? err);
      log(paint('31', `rolling restart ${n} failed: ${msg}`));
      this.report({ state: 'failed', finishedAt: Date.now(), error: msg });
    }
  }

  async replace({ unit, ready }, graceMs) {
    log(`rolling restart: stopping ${unit.name} (pid ${unit.pid}) ...`);
    if (!(await unit.replace(graceMs))) throw new StackError('the stack is stopping');
    await waitFor(`${unit.name} ${ready}`, () => httpOk(ready), {
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 200,
      abort: () => unit.gaveUp && 'it keeps exiting',
    });
    log(`rolling restart: ${unit.name} is back (pid ${unit.pid}) and ready`);
  }
}

/**
 * `stack.mjs restart`: asks the running start/cluster stack of this checkout (lock STACK_NAME,
 * default dev) for a rolling restart (SIGHUP) and follows it until it ends. Exit code 0 when
 * every process came back ready.
 */
export async function requestRestart(lockName, timeoutMs = 15 * 60_000) {
  const file = path.join(dirs.run, `${lockName}.json`);
  const read = () => {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      return null;
    }
  };
  const state = read();
  if (!state || !['start', 'cluster'].includes(state.mode)) {
    throw new StackError(
      `no running \`start\` or \`cluster\` stack found (no ${path.relative(REPO, file)})`,
    );
  }
  const before = state.rolling?.n ?? 0;
  process.kill(state.owner, 'SIGHUP');
  log(`asked the stack (pid ${state.owner}) for a rolling restart`);
  let shown = 0;
  const end = await waitFor(
    'the rolling restart',
    () => {
      const s = read();
      if (!s) throw new StackError('the stack stopped');
      const r = s.rolling;
      if (!r || r.n <= before) return null;
      for (const step of r.steps.slice(shown)) {
        log(`${step.name}: back and ready, pid ${step.pid} (${(step.ms / 1000).toFixed(1)} s)`);
      }
      shown = r.steps.length;
      return r.state === 'running' ? null : r;
    },
    { timeoutMs, intervalMs: 250 },
  );
  if (end.state !== 'done') throw new StackError(`rolling restart failed: ${end.error}`);
  log(`rolling restart done in ${((end.finishedAt - end.startedAt) / 1000).toFixed(1)} s`);
  return 0;
}
