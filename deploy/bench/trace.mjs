#!/usr/bin/env node
// Where the time of one run goes: sequential runs of one program through the whole system, with
// the services' stage timestamps (TRACE_RUNS=1, server/platform/src/run-trace.ts) merged
// with the client's, as medians and p90 in ms after the client sent `run:start`.
// BENCH_TRACE_JSON=<file> also writes every run's stage times (epoch ms) there, e.g. to lay them
// beside `docker events`. Needs REDIS_URL and MONGODB_URI: `BENCH=trace node deploy/local/stack.mjs bench`.
import { machine, pct, sleep, startBenchStack } from './common.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 0);
const LANGUAGE = process.env.BENCH_LANGUAGE ?? 'python';
const SOURCE = process.env.BENCH_SOURCE ?? 'print("hi")';
for (const v of ['REDIS_URL', 'MONGODB_URI']) {
  if (!process.env[v]) throw new Error(`${v} is not set: run node deploy/local/stack.mjs bench`);
}

/** runId -> stage -> epoch ms, from the services' TRACE lines. */
const traces = new Map();
let partial = '';
const onStderr = (data) => {
  const lines = (partial + data.toString()).split('\n');
  partial = lines.pop();
  for (const line of lines) {
    const m = /^TRACE (\S+) (\S+) ([\d.]+)$/.exec(line);
    if (!m) {
      if (line) process.stderr.write(`${line}\n`);
      continue;
    }
    const [, stage, runId, at] = m;
    if (!traces.has(runId)) traces.set(runId, {});
    traces.get(runId)[stage] ??= Number(at);
  }
};

const stack = await startBenchStack({
  db: 15,
  workerId: 'bench-trace',
  env: { TRACE_RUNS: '1', WARM_POOL_SIZE: process.env.BENCH_WARM_POOL ?? '4' },
  onStderr,
});
const now = () => performance.timeOrigin + performance.now();

/** One run: the client's own times (epoch ms) and the run id. */
function run() {
  return new Promise((resolve, reject) => {
    const t = { send: now() };
    let runId = null;
    const early = [];
    const seen = (e) => {
      if (runId === null) return (early.push(e), false);
      return e.runId === runId;
    };
    const onStatus = (e) => seen(e) && e.status === 'running' && (t['client-running'] ??= now());
    const onOutput = (e) => seen(e) && (t['client-first-output'] ??= now());
    const onFinished = (e) => {
      if (!seen(e)) return;
      t['client-finished'] = now();
      socket.off('run:status', onStatus);
      socket.off('run:output', onOutput);
      socket.off('run:finished', onFinished);
      resolve({ runId, t });
    };
    const { socket } = stack;
    socket.on('run:status', onStatus);
    socket.on('run:output', onOutput);
    socket.on('run:finished', onFinished);
    socket.emit('run:start', { language: LANGUAGE, source: SOURCE }, (ack) => {
      if (!ack.ok) return reject(new Error(`${ack.error.code}: ${ack.error.message}`));
      t['client-acked'] = now();
      runId = ack.runId;
      for (const e of early.splice(0)) (e.status ? onStatus : e.data ? onOutput : onFinished)(e);
    });
  });
}

const results = [];
try {
  for (let i = 0; i < RUNS + 3; i++) {
    const r = await run();
    if (i >= 3) results.push(r);
    if (GAP_MS) await sleep(GAP_MS);
  }
  await sleep(2000); // the last stored results
} finally {
  await stack.stop();
}

if (process.env.BENCH_TRACE_JSON) {
  const raw = results.map(({ runId, t }) => ({ runId, ...traces.get(runId), ...t }));
  (await import('node:fs')).writeFileSync(process.env.BENCH_TRACE_JSON, JSON.stringify(raw));
}
const byStage = new Map();
for (const { runId, t } of results) {
  for (const [stage, at] of Object.entries({ ...traces.get(runId), ...t })) {
    if (stage === 'send') continue;
    if (!byStage.has(stage)) byStage.set(stage, []);
    byStage.get(stage).push(at - t.send);
  }
}
console.log(`# Where the time of a run goes, ${new Date().toISOString().slice(0, 10)}`);
console.log(
  `# machine: ${machine()}; ${LANGUAGE} ${JSON.stringify(SOURCE)}, ${RUNS} sequential runs ` +
    `after 3 warm-up runs, ${GAP_MS} ms apart; warm pool ${process.env.BENCH_WARM_POOL ?? '4'}`,
);
console.log('');
console.log('| stage | ms after run:start was sent, median | p90 | runs |');
console.log('|---|---|---|---|');
const rows = [...byStage].sort((a, b) => pct(a[1], 50) - pct(b[1], 50));
for (const [stage, xs] of rows) {
  console.log(
    `| ${stage} | ${pct(xs, 50).toFixed(1)} | ${pct(xs, 90).toFixed(1)} | ${xs.length} |`,
  );
}
