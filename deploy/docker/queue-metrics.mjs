#!/usr/bin/env node
// Publishes the numbers the worker hosts scale and alarm on, as CloudWatch embedded-metric
// (EMF) JSON lines on stdout: the container's awslogs driver ships them and CloudWatch turns
// them into metrics (namespace Coderoom, dimension Environment). No AWS SDK, no credentials.
// Runs beside each worker (deploy/aws/lib/workers.ts), in the worker image, every 15 s:
//   QueueWaiting      runs waiting in the BullMQ queue (wait + prioritized), read from Redis
//   QueueWaitSeconds  how long runs waited before a worker took them, since the last line: the
//                     worker's histogram as values and counts (CloudWatch computes percentiles)
//   RunsFinished, RunErrors (verdict SE), ActiveRuns   from this host's worker /metrics
// Env: REDIS_URL, WORKER_METRICS_URL, METRICS_ENVIRONMENT, METRICS_INTERVAL_MS (15000),
// METRICS_ONCE=1 (one line, then exit: for tests).
import { Redis } from 'ioredis';

const QUEUE_KEYS = { wait: 'bull:runs:wait', prioritized: 'bull:runs:prioritized' };
const env = process.env;
const environment = env.METRICS_ENVIRONMENT || 'local';
const interval = Number(env.METRICS_INTERVAL_MS || 15000);
const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
redis.on('error', () => {}); // reported per line below

/** Prometheus text -> [{ name, labels, value }]. */
function parse(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

let previous = null;

/** The worker's counters and wait histogram, as deltas since the previous read. */
async function workerNumbers() {
  const res = await fetch(env.WORKER_METRICS_URL || 'http://127.0.0.1:9464/metrics');
  const samples = parse(await res.text());
  const sum = (name, pred = () => true) =>
    samples.filter((s) => s.name === name && pred(s.labels)).reduce((a, s) => a + s.value, 0);
  const now = {
    finished: sum('coderoom_runs_finished_total'),
    errors: sum('coderoom_runs_finished_total', (l) => l.verdict === 'SE'),
    active: sum('coderoom_worker_active_runs'),
    buckets: samples
      .filter((s) => s.name === 'coderoom_queue_wait_seconds_bucket')
      .map((s) => [s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value])
      .sort((a, b) => a[0] - b[0]),
  };
  const before = previous ?? { finished: now.finished, errors: now.errors, buckets: now.buckets };
  previous = now;
  // Each bucket's runs since the last read, valued at its upper bound (the +Inf bucket at twice
  // the largest bound): a conservative p95.
  const values = [];
  const counts = [];
  let below = 0;
  let belowBefore = 0;
  for (let i = 0; i < now.buckets.length; i++) {
    const [le, cum] = now.buckets[i];
    const cumBefore = before.buckets[i]?.[1] ?? 0;
    const n = cum - below - (cumBefore - belowBefore);
    below = cum;
    belowBefore = cumBefore;
    if (n <= 0) continue;
    values.push(Number.isFinite(le) ? le : 2 * (now.buckets[i - 1]?.[0] ?? 60));
    counts.push(n);
  }
  return {
    RunsFinished: Math.max(0, now.finished - before.finished),
    RunErrors: Math.max(0, now.errors - before.errors),
    ActiveRuns: now.active,
    wait: { values, counts },
  };
}

async function line() {
  const metrics = [];
  const record = {
    _aws: { Timestamp: Date.now(), CloudWatchMetrics: [] },
    Environment: environment,
  };
  const put = (name, value, unit) => {
    metrics.push({ Name: name, Unit: unit });
    record[name] = value;
  };
  try {
    if (redis.status === 'wait') await redis.connect();
    const [wait, prioritized] = await Promise.all([
      redis.llen(QUEUE_KEYS.wait),
      redis.zcard(QUEUE_KEYS.prioritized),
    ]);
    put('QueueWaiting', wait + prioritized, 'Count');
  } catch (err) {
    record.redisError = String(err.message ?? err);
  }
  try {
    const w = await workerNumbers();
    put('RunsFinished', w.RunsFinished, 'Count');
    put('RunErrors', w.RunErrors, 'Count');
    put('ActiveRuns', w.ActiveRuns, 'Count');
    if (w.wait.values.length)
      put('QueueWaitSeconds', { Values: w.wait.values, Counts: w.wait.counts }, 'Seconds');
  } catch (err) {
    record.workerError = String(err.message ?? err);
  }
  record._aws.CloudWatchMetrics.push({
    Namespace: 'Coderoom',
    Dimensions: [['Environment']],
    Metrics: metrics,
  });
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

if (env.METRICS_ONCE === '1') {
  await line();
  redis.disconnect();
} else {
  let stopping = false;
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      stopping = true;
      redis.disconnect();
      process.exit(0);
    });
  }
  while (!stopping) {
    await line();
    await new Promise((r) => setTimeout(r, interval));
  }
}
