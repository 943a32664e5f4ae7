#!/usr/bin/env node
// End-to-end latency and throughput of Coderoom on this machine: socket.io client -> gateway ->
// BullMQ -> worker -> Docker sandbox -> client. For every language: time from `run:start` to
// the first `run:output` and to `run:finished` for hello world, with the warm pool and with one
// container per run (cold), with a pause between runs; the same back to back for a few languages;
// then sustained runs/s at concurrency 1, 4 and 8 (Python).
// Needs REDIS_URL and MONGODB_URI: run it through `node deploy/local/stack.mjs bench`.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { REPO, machine, pct, sleep, startBenchStack } from './common.mjs';
import { cpuMeter, cpuRows } from './cpu.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const THROUGHPUT_SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const only = process.env.BENCH_LANGUAGES?.split(',');
/**
 * The latency cells pause this long between one run's `run:finished` and the next `run:start`
 * (a user reading the result): ~3 runs/s, a quarter of what this 2-core machine sustains. Back
 * to back (no pause) one client already keeps the machine at its throughput limit (~11 runs/s
 * of ~14): the warm pool is empty and a run waits for the sandbox being started for it, so that
 * measures saturation, not the latency of a run. Both are printed.
 */
const PAUSE_MS = Number(process.env.BENCH_PAUSE_MS ?? 250);
const BACK_TO_BACK = (process.env.BENCH_BACK_TO_BACK ?? 'python,bash').split(',').filter(Boolean);
/**
 * Each cell starts on an empty `runs` collection unless BENCH_KEEP_RUNS=1: FerretDB v1 as
 * released scanned the whole collection for every update, so each cell also measured how many
 * runs the cells before it stored (e.g. Python warm first output 26 ms on an empty collection,
 * 36 ms with 1,500 runs in it; README, "What slows it down"). The stack's FerretDB is patched
 * to use its `_id` index (README, "FerretDB differences"), but queries on other fields still
 * scan, so the cells keep starting equal.
 */
const KEEP_RUNS = process.env.BENCH_KEEP_RUNS === '1';
/** BENCH_THROUGHPUT_ONLY=1 skips the latency tables; BENCH_WARM_ONLY=1 the cold stack's cells. */
const THROUGHPUT_ONLY = process.env.BENCH_THROUGHPUT_ONLY === '1';
const ONLY_WARM = process.env.BENCH_WARM_ONLY === '1';
/** Client concurrencies of the throughput cells (BENCH_CONCURRENCY, e.g. "8"). */
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,4,8').split(',').map(Number);
for (const v of ['REDIS_URL', 'MONGODB_URI']) {
  if (!process.env[v]) throw new Error(`${v} is not set: run node deploy/local/stack.mjs bench`);
}

const HELLO = {
  python: 'print("hi")',
  javascript: 'console.log("hi")',
  typescript: 'const m: string = "hi";\nconsole.log(m);',
  c: '#include <stdio.h>\nint main(void){puts("hi");return 0;}',
  cpp: '#include <iostream>\nint main(){std::cout<<"hi"<<std::endl;}',
  java: 'public class Main { public static void main(String[] a) { System.out.println("hi"); } }',
  go: 'package main\nimport "fmt"\nfunc main() { fmt.Println("hi") }',
  rust: 'fn main() { println!("hi"); }',
  ruby: 'puts "hi"',
  bash: 'echo hi',
};
const languages = readdirSync(join(REPO, 'sandbox/languages'))
  .filter((id) => existsSync(join(REPO, 'sandbox/languages', id, 'language.json')))
  .filter((id) => HELLO[id] && (!only || only.includes(id)));

const startStack = (warm, db) =>
  startBenchStack({
    db,
    workerId: `bench-${warm ? 'warm' : 'cold'}`,
    env: {
      WORKER_CONCURRENCY: process.env.BENCH_WORKER_CONCURRENCY ?? '4',
      WARM_POOL_SIZE: warm ? '4' : '0',
      // BENCH_TIER=slot: the "warm" worker runs on the slot tier (sandbox/slot/README.md).
      ...(warm && process.env.BENCH_TIER ? { SANDBOX_TIER: process.env.BENCH_TIER } : {}),
    },
  });

/** One run; resolves { first, end } in ms since run:start was sent. */
function timedRun(socket, language, source) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let runId = null;
    let first = null;
    const early = [];
    let earlyEnd = null;
    const onOut = (c) => {
      if (runId === null) early.push(c);
      else if (c.runId === runId && first === null) first = performance.now() - t0;
    };
    const onFin = (e) => {
      // A fast run (the slot tier) can end before its ack arrives: kept until the ack names it.
      if (runId === null) earlyEnd ??= new Map();
      if (runId === null) return void earlyEnd.set(e.runId, [e, performance.now() - t0]);
      if (e.runId !== runId) return;
      socket.off('run:output', onOut);
      socket.off('run:finished', onFin);
      if (e.verdict !== 'OK') reject(new Error(`${language}: verdict ${e.verdict}`));
      else
        resolve({ first: first ?? performance.now() - t0, end: endAt ?? performance.now() - t0 });
    };
    let endAt = null;
    socket.on('run:output', onOut);
    socket.on('run:finished', onFin);
    socket.emit('run:start', { language, source }, (ack) => {
      if (!ack.ok) {
        socket.off('run:output', onOut);
        socket.off('run:finished', onFin);
        return reject(new Error(`${language}: ${ack.error.code} ${ack.error.message}`));
      }
      runId = ack.runId;
      if (early.some((c) => c.runId === runId)) first = performance.now() - t0;
      const ended = earlyEnd?.get(runId);
      if (ended) {
        endAt = ended[1];
        onFin(ended[0]);
      }
    });
  });
}

// One decimal below 100 ms: the targets there (e.g. first output under 10 ms) are finer than 1 ms.
const f = (ms) => (ms < 100 ? ms.toFixed(1) : ms.toFixed(0));

let db = null;
async function emptyRuns() {
  if (KEEP_RUNS) return;
  db ??= await mongoose.createConnection(process.env.MONGODB_URI).asPromise();
  await sleep(300); // the last results of the cell before are stored in the background
  await db.collection('runs').deleteMany({});
}

async function latency(stack, language, pauseMs) {
  await emptyRuns();
  for (let i = 0; i < 3; i++) {
    await timedRun(stack.socket, language, HELLO[language]); // warm-up
    if (pauseMs) await sleep(pauseMs);
  }
  const firsts = [];
  const ends = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await timedRun(stack.socket, language, HELLO[language]);
    firsts.push(r.first);
    ends.push(r.end);
    if (pauseMs) await sleep(pauseMs);
  }
  return {
    firstMed: pct(firsts, 50),
    firstP95: pct(firsts, 95),
    endMed: pct(ends, 50),
    endP95: pct(ends, 95),
  };
}

async function throughput(stack, concurrency) {
  await emptyRuns();
  const deadline = performance.now() + THROUGHPUT_SECONDS * 1000;
  let done = 0;
  let errors = 0;
  const lat = [];
  /** Error messages (their first 60 characters) and how often each came. */
  const kinds = new Map();
  const meter = cpuMeter();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        try {
          lat.push((await timedRun(stack.socket, 'python', HELLO.python)).end);
          done++;
        } catch (err) {
          errors++;
          const kind = String(err.message).slice(0, 60);
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        }
      }
    }),
  );
  if (kinds.size > 0) console.error(`c=${concurrency} errors:`, Object.fromEntries(kinds));
  return {
    perSecond: done / THROUGHPUT_SECONDS,
    p95: pct(lat, 95),
    errors,
    cpu: cpuRows(meter.end(), done),
  };
}

const HEADER = [
  '| language | warm first output med / p95 (ms) | warm finished med / p95 | cold first output med / p95 | cold finished med / p95 | first-output speed-up |',
  '|---|---|---|---|---|---|',
];
async function latencyTable(warm, cold, langs, pauseMs) {
  for (const line of HEADER) console.log(line);
  for (const language of langs) {
    const w = await latency(warm, language, pauseMs);
    const c = await latency(cold, language, pauseMs);
    console.log(
      `| ${language} | ${f(w.firstMed)} / ${f(w.firstP95)} | ${f(w.endMed)} / ${f(w.endP95)} | ${f(c.firstMed)} / ${f(c.firstP95)} | ${f(c.endMed)} / ${f(c.endP95)} | ${(c.firstMed / w.firstMed).toFixed(1)}x |`,
    );
  }
}

console.log(`# Coderoom end-to-end benchmark, ${new Date().toISOString().slice(0, 10)}`);
console.log(`# machine: ${machine()}; ${RUNS} runs per cell after 3 warm-up runs`);
console.log(
  KEEP_RUNS
    ? '# the runs collection keeps every run of the benchmark (BENCH_KEEP_RUNS=1)'
    : '# the runs collection is emptied before each cell (BENCH_KEEP_RUNS=1 keeps it)',
);
console.log('');
const warm = await startStack(true, 13);
const cold = await startStack(false, 14);
try {
  if (!THROUGHPUT_ONLY) {
    console.log(
      `One client, ${PAUSE_MS} ms between a run's end and the next run (BENCH_PAUSE_MS):`,
    );
    console.log('');
    await latencyTable(warm, cold, languages, PAUSE_MS);
  }
  const b2b = languages.filter((l) => BACK_TO_BACK.includes(l));
  if (b2b.length && PAUSE_MS && !THROUGHPUT_ONLY) {
    console.log('');
    console.log(
      'One client, back to back (each run:start right after the last run:finished; BENCH_BACK_TO_BACK):',
    );
    console.log('');
    await latencyTable(warm, cold, b2b, 0);
  }
  console.log('');
  console.log(
    `Sustained Python hello world, ${THROUGHPUT_SECONDS} s per cell (one worker, concurrency ${process.env.BENCH_WORKER_CONCURRENCY ?? '4'}):`,
  );
  console.log('');
  console.log(
    '| client concurrency | warm runs/s | warm p95 (ms) | cold runs/s | cold p95 (ms) | errors |',
  );
  console.log('|---|---|---|---|---|---|');
  const cpu = [];
  for (const n of CONCURRENCY) {
    const w = await throughput(warm, n);
    const c = ONLY_WARM ? null : await throughput(cold, n);
    console.log(
      `| ${n} | ${w.perSecond.toFixed(1)} | ${f(w.p95)} | ${c ? c.perSecond.toFixed(1) : '-'} | ${c ? f(c.p95) : '-'} | ${w.errors + (c?.errors ?? 0)} |`,
    );
    cpu.push([`warm, c=${n}`, w.cpu], ...(c ? [[`cold, c=${n}`, c.cpu]] : []));
  }
  // CPU of each part per completed run (cpu.mjs), for the highest concurrency of each stack.
  for (const [name, rows] of cpu.filter(([n]) => n.endsWith(`c=${CONCURRENCY.at(-1)}`))) {
    console.log('');
    console.log(`CPU per run by process (ms), ${name}:`);
    console.log('');
    console.log('| part | CPU per run (ms) |');
    console.log('|---|---|');
    for (const row of rows) console.log(row);
  }
} finally {
  await warm.stop();
  await cold.stop();
  await db?.close();
}
