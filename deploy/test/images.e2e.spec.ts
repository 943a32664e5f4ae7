// The production images (deploy/docker) known to work, not only to build: two gateways and two
// workers in containers behind HAProxy, on the stack's Redis and FerretDB, through the cluster
// test's main path (a gateway dies mid-stream; the client resumes through the balancer) plus a
// worker drained by `docker stop` and the host-side metrics publisher.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { io } from 'socket.io-client';
import type { OutputChunk, RunFinishedEvent, RunWatchResult } from '@coderoom/contracts';
import {
  gatewayMetrics,
  text,
  until,
  withLogs,
  type ClientSocket,
} from '../../server/test/harness.js';
import {
  buildImages,
  docker,
  startContainers,
  type ContainerStack,
  type ImageTags,
} from './container-stack.js';
import { NODE_PIN } from '../local/node-runtime.mjs';

let images: ImageTags;
let stack: ContainerStack;

beforeAll(async () => {
  images = buildImages(); // a few minutes the first time; nothing when the tags exist
  stack = await startContainers(images, { name: 'images', redisDb: 23, gateways: 2, workers: 2 });
}, 1_200_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

const logsOf = () => ({ logs: () => stack?.logs() ?? '' }) as never;

it('runs both images as uid 1000 with a HEALTHCHECK that reports healthy', async () => {
  for (const name of [...stack.gateways, ...stack.workers]) {
    const user = docker('inspect', '--format', '{{.Config.User}}', name);
    expect(user).toBe('1000:1000');
    await until(
      `${name} to be healthy`,
      () => docker('inspect', '--format', '{{.State.Health.Status}}', name) === 'healthy',
      90_000,
    );
  }
  // The pinned Node inside (deploy/docker/node-version.json), whatever the machine runs.
  expect(docker('exec', stack.gateways[0], 'node', '--version')).toBe(`v${NODE_PIN.node}`);
}, 200_000);

async function connect(token: string): Promise<ClientSocket> {
  const s: ClientSocket = io(stack.url, {
    auth: { token },
    withCredentials: true, // long-polling first through the balancer: needs its cookie
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return s;
}

const LINES = 40;
const source = `import time\nfor i in range(${LINES}):\n    print(f"n{i:03d}", flush=True)\n    time.sleep(0.075)\n`;
const expected = Array.from({ length: LINES }, (_, i) => `n${String(i).padStart(3, '0')}\n`).join(
  '',
);

it(
  'survives the death of the serving gateway container: the client reconnects through the balancer and loses nothing',
  withLogs(logsOf, async () => {
    const s = await connect(await stack.token('images-lb'));
    const chunks: OutputChunk[] = [];
    const seen = new Set<number>();
    let runId = '';
    let finished: RunFinishedEvent | null = null;
    const take = (c: OutputChunk) => {
      if (c.runId !== runId || seen.has(c.seq)) return;
      seen.add(c.seq);
      chunks.push(c);
    };
    s.on('run:output', take);
    s.on('run:finished', (e) => {
      if (e.runId === runId) finished = e;
    });
    const ack = await s.emitWithAck('run:start', { language: 'python', source });
    if (!ack.ok) throw new Error(JSON.stringify(ack));
    runId = ack.runId;
    await until('output before the crash', () => chunks.length >= 5, 30_000);
    let serving = -1;
    for (let i = 0; i < stack.gatewayUrls.length; i++) {
      const m = await gatewayMetrics(stack.gatewayUrls[i]);
      if (/^coderoom_gateway_sockets 1$/m.test(m)) serving = i;
    }
    expect(serving).toBeGreaterThanOrEqual(0);
    let reconnected = false;
    s.io.on('reconnect', () => {
      reconnected = true;
      void s.emitWithAck('run:watch', { runId, afterSeq: Math.max(0, ...seen) }).then((w) => {
        if (!w.ok) return;
        const r = w as { ok: true } & RunWatchResult;
        r.backlog.forEach(take);
        if (r.run.result) finished = { runId, ...r.run.result };
      });
    });
    docker('kill', stack.gateways[serving]); // SIGKILL: a crash
    await until('the client to reconnect through the balancer', () => reconnected, 30_000);
    await until('run:finished', () => finished !== null, 40_000);
    const ordered = [...chunks].sort((a, b) => a.seq - b.seq);
    expect(ordered.map((c) => c.seq)).toEqual(ordered.map((_, i) => i + 1));
    expect(text(ordered)).toBe(expected);
    expect(finished!.verdict).toBe('OK');
    s.disconnect();
    await stack.restart(stack.gateways[serving]);
  }),
  180_000,
);

it(
  'drains a worker container on docker stop (SIGTERM): its run finishes, it exits 0, the other worker serves on',
  withLogs(logsOf, async () => {
    // An instructor: four runs at once is above a student's concurrent quota (3).
    const s = await connect(await stack.token('images-drain', 'instructor'));
    try {
      const runs = new Map<string, RunFinishedEvent>();
      s.on('run:finished', (e) => runs.set(e.runId, e));
      const started: string[] = [];
      for (let i = 0; i < 4; i++) {
        const ack = await s.emitWithAck('run:start', { language: 'python', source });
        if (!ack.ok) throw new Error(JSON.stringify(ack));
        started.push(ack.runId);
      }
      // Both workers hold runs (two slots each); stop one while its runs are under way.
      await until(
        'worker 1 to hold a run',
        async () =>
          /coderoom_worker_active_runs [1-9]/.test(
            await fetch(`${stack.workerUrls[1]}/metrics`).then((r) => r.text()),
          ),
        30_000,
      );
      const t0 = Date.now();
      docker('stop', '--time', '60', stack.workers[1]);
      // It ended by itself after its drain (0, or 143: the SIGTERM Nest re-raises), not SIGKILL.
      expect(['0', '143']).toContain(
        docker('inspect', '--format', '{{.State.ExitCode}}', stack.workers[1]),
      );
      expect(Date.now() - t0).toBeLessThan(55_000);
      await until('every run to finish', () => started.every((id) => runs.has(id)), 60_000);
      expect(started.map((id) => runs.get(id)!.verdict)).toEqual(['OK', 'OK', 'OK', 'OK']);
      // No sandbox left behind by the stopped worker.
      expect(docker('ps', '-aq', '--filter', `label=coderoom.worker=${stack.workers[1]}`)).toBe('');
    } finally {
      s.disconnect();
    }
    await stack.restart(stack.workers[1]);
  }),
  180_000,
);

it('publishes queue depth and run counts as CloudWatch embedded-metric lines (worker image)', () => {
  const out = execFileSync('docker', [
    'run',
    '--rm',
    '--network',
    'host',
    '-e',
    `REDIS_URL=${stack.redisUrl}`,
    '-e',
    `WORKER_METRICS_URL=${stack.workerUrls[0]}/metrics`,
    '-e',
    'METRICS_ENVIRONMENT=test',
    '-e',
    'METRICS_ONCE=1',
    images.tags.worker,
    'node',
    'deploy/docker/queue-metrics.mjs',
  ]).toString();
  const line = JSON.parse(out.trim().split('\n').pop()!) as {
    Environment: string;
    QueueWaiting: number;
    redisError?: string;
    workerError?: string;
    _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] };
  };
  expect(line.Environment).toBe('test');
  expect(line._aws.CloudWatchMetrics[0].Namespace).toBe('Coderoom');
  const names = line._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name);
  expect(names).toEqual(
    expect.arrayContaining(['QueueWaiting', 'RunsFinished', 'RunErrors', 'ActiveRuns']),
  );
  expect(line.QueueWaiting).toBe(0);
  expect(line.redisError).toBeUndefined();
  expect(line.workerError).toBeUndefined();
}, 60_000);
