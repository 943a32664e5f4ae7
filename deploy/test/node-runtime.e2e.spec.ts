// The tests, the gateways and the workers run on the production images' Node
// (deploy/docker/node-version.json), whatever Node the machine has: `stack.mjs` runs itself
// again on the pinned Node when the machine's is older (deploy/local/node-runtime.mjs). Checked
// through the real path: `stack.mjs start` launched by the machine's Node, and the Node version
// its gateway and worker report in their own metrics. Also: every native addon in node_modules
// loads on this Node (an install by another Node leaves addons of another ABI behind).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { launch, type Proc } from '../local/launcher.mjs';
import { LAUNCHED_BY, NODE_PIN, compareVersions } from '../local/node-runtime.mjs';
import {
  REPO,
  freePort,
  runToEnd,
  text,
  until,
  type ClientSocket,
} from '../../server/test/harness.js';

const NAME = 'e2e-node';
const PINNED = `v${NODE_PIN.node}`;
/** The Node that started `npm test`, when it was older than the pinned one (else unset). */
const launcher = process.env[LAUNCHED_BY];
const launcherVersion = launcher
  ? execFileSync(launcher, ['--version'], { encoding: 'utf8' }).trim()
  : null;

/** The version in a Prometheus scrape's `<prefix>nodejs_version_info{version="v..."}`. */
const versionIn = (metrics: string, prefix: string): string | undefined =>
  new RegExp(`^${prefix}nodejs_version_info\\{version="(v[^"]+)"`, 'm').exec(metrics)?.[1];

it('runs jest on the pinned Node when the machine has an older one, else on the machine’s', () => {
  if (launcherVersion) {
    expect(compareVersions(launcherVersion, NODE_PIN.node)).toBe(-1);
    expect(process.version).toBe(PINNED);
  } else {
    expect(compareVersions(process.version, NODE_PIN.node)).toBeGreaterThanOrEqual(0);
  }
  expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
});

/**
 * Prebuilds a package ships for another C library or Node ABI, named so that its loader never
 * picks them here (msgpackr-extract's `node.abi115.musl.node` beside `node.napi.glibc.node`).
 */
const glibc =
  (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
    ?.glibcVersionRuntime !== undefined;
function forAnotherTarget(name: string): boolean {
  const abi = /\babi(\d+)\b/.exec(name)?.[1];
  return (
    (glibc && /\bmusl\b/.test(name)) || (abi !== undefined && abi !== process.versions.modules)
  );
}

it('loads every native addon in node_modules on this Node (node-gyp builds and prebuilds)', () => {
  const addons: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.node') && !forAnotherTarget(e.name)) addons.push(p);
    }
  };
  walk(join(REPO, 'node_modules'));
  // ssh2's crypto binding (node-gyp, per ABI) and the N-API ones (rolldown, lightningcss, ...).
  expect(addons.length).toBeGreaterThan(0);
  const failed = addons
    .map((file) => {
      // In a child: an addon of another ABI can also abort the process that loads it.
      const r = spawnSync(
        process.execPath,
        ['-e', 'process.dlopen({ exports: {} }, process.argv[1])', file],
        { encoding: 'utf8' },
      );
      return r.status === 0 ? null : `${file}: ${r.stderr.split('\n').find((l) => l) ?? r.signal}`;
    })
    .filter(Boolean);
  expect(failed).toEqual([]);
}, 120_000);

describe('stack.mjs start, launched by the machine’s Node', () => {
  let stack: Proc | undefined;
  const out: string[] = [];
  let gatewayMetrics = '';
  let workerMetrics = '';
  let port = 0;
  let redisUrl = '';

  beforeAll(async () => {
    port = await freePort();
    const [metricsPort, workerPort] = [await freePort(), await freePort()];
    // `npm start` as the machine runs it: the stack script launched by the machine's Node, on the
    // suite's Redis and database (a database and a Redis db of its own, no warm pool).
    const redis = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    redis.pathname = '/62';
    redisUrl = redis.toString();
    const mongo = new URL(process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017');
    mongo.pathname = `/coderoom-test-${NAME}`;
    rmSync(join(REPO, '.local', 'data', NAME), { recursive: true, force: true });
    stack = launch(
      'stack',
      launcher ?? process.execPath,
      ['deploy/local/stack.mjs', 'start', '--no-build'],
      {
        cwd: REPO,
        env: {
          ...process.env,
          STACK_NAME: NAME,
          PORT: String(port),
          GATEWAY_METRICS_PORT: String(metricsPort),
          WORKER_HTTP_PORT: String(workerPort),
          REDIS_URL: redisUrl,
          MONGODB_URI: mongo.toString(),
          WARM_POOL_SIZE: '0',
          SANDBOX_TIER: '', // npm start's own default, whatever the suite exports
          LOG_LEVEL: 'warn',
          NO_COLOR: '1',
        },
        onLine: (line) => out.push(line),
      },
    );
    try {
      await until(
        'stack.mjs start to be up',
        () => {
          if (stack!.done) throw new Error(`stack.mjs exited (${stack!.how})`);
          return out.some((l) => l.includes('Coderoom is running'));
        },
        300_000,
      );
      const scrape = async (url: string) => {
        const res = await fetch(url);
        return res.ok ? res.text() : '';
      };
      await until('the gateway and worker metrics', async () => {
        gatewayMetrics = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
        workerMetrics = await scrape(`http://127.0.0.1:${workerPort}/metrics`);
        return gatewayMetrics !== '' && workerMetrics !== '';
      });
    } catch (err) {
      if (err instanceof Error) err.message += `\n--- stack output ---\n${out.join('\n')}`;
      throw err;
    }
  }, 320_000);

  afterAll(async () => {
    await stack?.stop({ graceMs: 60_000 });
  }, 70_000);

  it('starts the gateway and the worker of `stack.mjs start` on the Node jest runs on', () => {
    expect(versionIn(gatewayMetrics, 'coderoom_gateway_')).toBe(process.version);
    expect(versionIn(workerMetrics, 'coderoom_worker_')).toBe(process.version);
    if (launcherVersion) {
      expect(out.join('\n')).toContain(`node: ${launcherVersion} is older than ${PINNED}`);
    }
  });

  it('runs code on the slot tier by default (issue 15: the hostile corpus passes there)', async () => {
    expect(out.join('\n')).toMatch(/sandbox tier: slot/);
    const res = await fetch(`http://127.0.0.1:${port}/api/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'npm-start', role: 'student' }),
    });
    const { token } = (await res.json()) as { token: string };
    const s: ClientSocket = io(`http://127.0.0.1:${port}`, {
      auth: { token },
      transports: ['websocket'],
      forceNew: true,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('connect_error', reject);
      });
      const run = await runToEnd(s, { language: 'python', source: 'print("from a slot")' }, 60_000);
      expect(run.finished.verdict).toBe('OK');
      expect(text(run.outputs)).toBe('from a slot\n');
      // It ran in a slot container of this stack (its worker's scope is its Redis URL's hash).
      const scope = createHash('sha256').update(redisUrl).digest('hex').slice(0, 16);
      const slots = execFileSync('docker', [
        'ps',
        '-q',
        '--filter',
        'label=coderoom.slot',
        '--filter',
        `label=coderoom.scope=${scope}`,
      ])
        .toString()
        .trim();
      expect(slots).not.toBe('');
    } finally {
      s.disconnect();
    }
  }, 90_000);
});
