// Gateways and workers in containers of the production images (deploy/docker), behind HAProxy,
// on the test stack's Redis and FerretDB: for images.e2e.spec.ts. Small and separate from
// server/test/harness.ts on purpose (that one starts processes); it reuses its helpers.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { haproxyConfig } from '../local/haproxy.mjs';
import {
  freePort,
  REPO,
  TEST_JWT_SECRET,
  TEST_METRICS_TOKEN,
  until,
} from '../../server/test/harness.js';

export interface ImageTags {
  base: string;
  imageTag: string;
  tags: { gateway: string; worker: string };
}

/** Builds the images unless their content tags exist (deploy/docker/images.mjs); their tags. */
export function buildImages(): ImageTags {
  const out = execFileSync(process.execPath, [join(REPO, 'deploy/docker/images.mjs'), 'build'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 24,
  });
  return JSON.parse(out.toString()) as ImageTags;
}

export const docker = (...args: string[]): string =>
  execFileSync('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    .toString()
    .trim();

export interface ContainerStack {
  url: string;
  gatewayUrls: string[];
  workerUrls: string[];
  /** Container names: gateways, then workers. */
  gateways: string[];
  workers: string[];
  redisUrl: string;
  mongoUri: string;
  token(name: string, role?: 'student' | 'instructor'): Promise<string>;
  /** `docker start` again (same name, same port) and wait until it is ready. */
  restart(name: string): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with "npm test"`);
  return v;
}

/**
 * `gateways` gateway containers and `workers` worker containers on the host network (they reach
 * the stack's Redis and FerretDB on 127.0.0.1, as tasks reach theirs over the VPC), HAProxy in
 * front like the ALB. Workers get the host's Docker socket and its group, as on a worker host.
 */
export async function startContainers(
  images: ImageTags,
  opts: { name: string; redisDb: number; gateways: number; workers: number },
): Promise<ContainerStack> {
  const label = `coderoom.test=${opts.name}-${process.pid}`;
  const redis = new URL(required('REDIS_URL'));
  redis.pathname = `/${opts.redisDb}`;
  const mongo = new URL(required('MONGODB_URI'));
  mongo.pathname = `/coderoom-test-${opts.name}`;
  const flush = new Redis(redis.toString());
  await flush.flushdb();
  await flush.quit();
  const socket = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';
  const socketGid = String(statSync(socket).gid);
  const common = [
    '--network',
    'host',
    '--label',
    label,
    '-e',
    `REDIS_URL=${redis.toString()}`,
    '-e',
    `MONGODB_URI=${mongo.toString()}`,
    '-e',
    'NO_COLOR=1',
  ];
  // As on ECS and the worker hosts: read-only root, no capabilities, no privilege gain.
  // --init: Node must not be PID 1 (Nest re-raises SIGTERM after its drain, which PID 1 ignores).
  const hardened = [
    '--init',
    '--read-only',
    '--tmpfs',
    '/tmp',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
  ];
  const gatewayPorts: number[] = [];
  const workerPorts: number[] = [];
  const gateways: string[] = [];
  const workers: string[] = [];
  for (let i = 0; i < opts.gateways; i++) {
    const port = await freePort();
    const name = `${opts.name}-${process.pid}-gateway-${i}`;
    docker(
      'run',
      '-d',
      '--name',
      name,
      ...common,
      ...hardened,
      '-e',
      `PORT=${port}`,
      '-e',
      'HOST=127.0.0.1',
      '-e',
      `JWT_SECRET=${TEST_JWT_SECRET}`,
      '-e',
      'DEV_TOKENS=true',
      '-e',
      `METRICS_TOKEN=${TEST_METRICS_TOKEN}`,
      '-e',
      `RUN_QUOTAS=${JSON.stringify({ student: { perMinute: 600 } })}`,
      images.tags.gateway,
    );
    gatewayPorts.push(port);
    gateways.push(name);
  }
  for (let i = 0; i < opts.workers; i++) {
    const port = await freePort();
    const name = `${opts.name}-${process.pid}-worker-${i}`;
    docker(
      'run',
      '-d',
      '--name',
      name,
      ...common,
      ...hardened,
      '--group-add',
      socketGid,
      '-v',
      `${socket}:/var/run/docker.sock`,
      '--stop-timeout',
      '60',
      '-e',
      `WORKER_ID=${name}`,
      '-e',
      `WORKER_HTTP_PORT=${port}`,
      '-e',
      'WORKER_HTTP_HOST=127.0.0.1',
      '-e',
      'WORKER_CONCURRENCY=2',
      '-e',
      'WARM_POOL_SIZE=0',
      '-e',
      'RUN_WALL_MS=15000',
      images.tags.worker,
    );
    workerPorts.push(port);
    workers.push(name);
  }
  const lbPort = await freePort();
  const lbDir = mkdtempSync(join(tmpdir(), 'coderoom-images-lb-'));
  writeFileSync(join(lbDir, 'haproxy.cfg'), haproxyConfig(lbPort, gatewayPorts));
  const haproxy: ChildProcess = spawn(
    '/usr/sbin/haproxy',
    ['-db', '-f', join(lbDir, 'haproxy.cfg')],
    {
      stdio: 'ignore',
    },
  );
  const url = `http://127.0.0.1:${lbPort}`;
  const gatewayUrls = gatewayPorts.map((p) => `http://127.0.0.1:${p}`);
  const workerUrls = workerPorts.map((p) => `http://127.0.0.1:${p}`);
  const ready = async (u: string) => {
    try {
      return (await fetch(`${u}/ready`)).ok;
    } catch {
      return false;
    }
  };
  const stack: ContainerStack = {
    url,
    gatewayUrls,
    workerUrls,
    gateways,
    workers,
    redisUrl: redis.toString(),
    mongoUri: mongo.toString(),
    async token(name, role = 'student') {
      const res = await fetch(`${url}/api/auth/dev-token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, role }),
      });
      if (!res.ok) throw new Error(`dev-token: HTTP ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
    async restart(name) {
      docker('start', name);
      const i = gateways.indexOf(name);
      const u = i >= 0 ? gatewayUrls[i] : workerUrls[workers.indexOf(name)];
      await until(`${name} to be ready again`, () => ready(u), 60_000);
    },
    logs: () =>
      [...gateways, ...workers]
        .map((n) => {
          try {
            return `--- ${n}\n${execFileSync('docker', ['logs', '--tail', '60', n], { stdio: 'pipe' }).toString()}`;
          } catch {
            return `--- ${n}: no logs`;
          }
        })
        .join('\n'),
    stop() {
      haproxy.kill('SIGTERM');
      const ids = docker('ps', '-aq', '--filter', `label=${label}`).split('\n').filter(Boolean);
      if (ids.length) docker('rm', '-f', ...ids);
      rmSync(lbDir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
  try {
    for (const u of [...gatewayUrls, ...workerUrls]) {
      await until(`${u}/ready`, () => ready(u), 90_000);
    }
    await until('the balancer', () => ready(url), 30_000);
  } catch (err) {
    const logs = stack.logs();
    await stack.stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return stack;
}
