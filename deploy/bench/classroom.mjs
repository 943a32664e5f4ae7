#!/usr/bin/env node
// Classroom benchmark (issue 13): one session, BENCH_STUDENTS (60) students spread over two
// gateway nodes, each submitting to the session's problem (3 tests, one hidden) every
// ~BENCH_RUN_EVERY_MS (5000, jittered) for BENCH_SECONDS (60) while BENCH_INSTRUCTORS (5)
// instructors, also spread over both nodes, watch its dashboard, and two students (one per node)
// type into the shared document (BENCH_DOC_RATE edits/s each). Reports
//  - dashboard delivery latency: an update's `at` (stamped when its publisher, the worker for a
//    submission's status, tests, verdict and progress, applied it to the feed) to each
//    instructor's receipt, p50/p95/p99/max, for the worker's updates and for all; and that every
//    instructor got every seq once, without gaps, and saw every accepted submission finish and
//    its progress;
//  - document edit propagation between nodes: from a member's `doc:update` emit to the receipt of
//    the relayed `doc:update` by every member on the other node, p50/p95/p99; that every member
//    got every edit, and the two editors converged;
//  - each gateway's RSS per member (delta from before the members connected / its sockets).
// Sockets connect to the gateways directly, alternating (no balancer), so each node holds half.
// Prints Markdown; the services' logs go to .local/log/bench-classroom/. Needs REDIS_URL and
// MONGODB_URI: run it through `BENCH=classroom node deploy/local/stack.mjs bench`.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io } from 'socket.io-client';
import { REPO, devToken, freePort, machine, pct, sleep, waitHttp } from './common.mjs';
import { cpuMeter, cpuShareRows } from './cpu.mjs';

const Y = createRequire(join(REPO, 'server/package.json'))('yjs');
const env = process.env;
for (const v of ['REDIS_URL', 'MONGODB_URI']) {
  if (!env[v])
    throw new Error(`${v} is not set: run BENCH=classroom node deploy/local/stack.mjs bench`);
}
const num = (name, dflt) => {
  const v = Number(env[name] ?? dflt);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name}: not a number >= 0`);
  return v;
};
const STUDENTS = num('BENCH_STUDENTS', 60);
const INSTRUCTORS = num('BENCH_INSTRUCTORS', 5);
const SECONDS = num('BENCH_SECONDS', 60);
const RUN_EVERY_MS = num('BENCH_RUN_EVERY_MS', 5000);
const DOC_RATE = num('BENCH_DOC_RATE', 10);
const GRACE_SECONDS = num('BENCH_GRACE_SECONDS', 30);
const WORKERS = num('BENCH_WORKERS', 2);
// `submit` (the default): graded submissions to the session's problem, 10% of them wrong;
// `run`: plain runs in the session (a queued, a running and a finished update each).
const MODE = env.BENCH_MODE ?? 'submit';
if (!['submit', 'run'].includes(MODE)) throw new Error('BENCH_MODE: submit or run');
const LOG_DIR = env.BENCH_LOG_DIR ?? join(REPO, '.local/log/bench-classroom');

const redisUrl = new URL(env.REDIS_URL);
redisUrl.pathname = `/${num('BENCH_REDIS_DB', 25)}`;
const mongoUri = new URL(env.MONGODB_URI);
mongoUri.pathname = '/coderoom-bench-classroom';
const serviceEnv = {
  ...env,
  REDIS_URL: redisUrl.toString(),
  MONGODB_URI: mongoUri.toString(),
  JWT_SECRET: 'bench-classroom-secret-0123456789abcdef',
  DEV_TOKENS: 'true',
  HOST: '127.0.0.1',
  LOG_LEVEL: env.BENCH_LOG_LEVEL ?? 'warn',
  WORKER_CONCURRENCY: String(num('BENCH_WORKER_CONCURRENCY', 2)),
  WARM_POOL_SIZE: String(num('BENCH_WARM_POOL', 2)),
  WORKER_HTTP_HOST: '127.0.0.1',
  RUN_QUOTAS: JSON.stringify({ student: { perMinute: 100000, perDay: 1000000, concurrent: 8 } }),
  METRICS_TOKEN: 'bench-classroom-metrics',
};

// ---------------------------------------------------------------------------------------------
// The services

const procs = [];
function service(name, script, extra) {
  const fd = openSync(join(LOG_DIR, `${name}.log`), 'w');
  const proc = spawn(process.execPath, [join(REPO, script)], {
    cwd: REPO,
    env: { ...serviceEnv, ...extra },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  procs.push(proc);
  return proc;
}
process.on('exit', () => procs.forEach((p) => p.exitCode === null && p.kill('SIGKILL')));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

async function stopAll() {
  await Promise.all(
    procs
      .filter((p) => p.exitCode === null && p.signalCode === null)
      .map((p) => new Promise((r) => (p.once('exit', r), p.kill('SIGTERM')))),
  );
}

function eventLoop() {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return {
    stop: () => (h.disable(), { p99: h.percentile(99) / 1e6, max: h.max / 1e6 }),
  };
}

const rss = (pid) =>
  Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)?.[1]) * 1024;

/** A gateway's metrics: its sockets, CPU seconds so far, event-loop lag since the last scrape. */
async function gatewayMetrics(url) {
  const headers = { authorization: `Bearer ${serviceEnv.METRICS_TOKEN}` };
  const text = await (await fetch(`${url}/metrics`, { headers })).text();
  const value = (name) =>
    Number(text.match(new RegExp(`^coderoom_gateway_${name} (\\S+)$`, 'm'))?.[1] ?? NaN);
  return {
    sockets: value('sockets'),
    cpuSeconds: value('process_cpu_seconds_total'),
    // prom-client resets its event-loop histogram at every scrape.
    lagP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
    lagMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
  };
}
const sockets = async (url) => (await gatewayMetrics(url)).sockets;

// ---------------------------------------------------------------------------------------------
// Clients

const ACK_MS = 30000;
function connect(url, token) {
  return new Promise((resolve, reject) => {
    const s = io(url, { auth: { token }, forceNew: true, transports: ['websocket'] });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

async function call(s, event, payload) {
  const ack = await s.timeout(ACK_MS).emitWithAck(event, payload);
  if (!ack.ok) throw Object.assign(new Error(`${event}: ${ack.error.code}`), ack.error);
  return ack;
}

const problem = {
  title: 'A plus B',
  statement: 'Print the sum of the two numbers on the line.',
  languages: ['python'],
  checker: 'exact',
  tests: [
    { stdin: '1 2\n', expected: '3\n', points: 1 },
    { stdin: '40 2\n', expected: '42\n', points: 1 },
    { stdin: '-5 5\n', expected: '0\n', points: 2, hidden: true },
  ],
};
const SOURCE = 'a, b = map(int, input().split())\nprint(a + b)\n';
const WRONG = 'a, b = map(int, input().split())\nprint(a - b)\n';

const counts = { started: 0, busy: 0, rateLimited: 0, errors: {} };
const inc = (o, k) => (o[k] = (o[k] ?? 0) + 1);

/** Runs whose run:finished reached their student. */
const finishedAtStudent = new Set();

/** A student looping runs in the session until `end`; returns the run ids it got accepted. */
async function student(s, sessionId, problemId, end) {
  const mine = [];
  s.on('run:finished', (e) => finishedAtStudent.add(e.runId));
  await sleep(Math.random() * RUN_EVERY_MS);
  while (Date.now() < end) {
    const next = Date.now() + RUN_EVERY_MS * (0.75 + Math.random() / 2);
    const payload =
      MODE === 'submit'
        ? { language: 'python', source: Math.random() < 0.1 ? WRONG : SOURCE, sessionId }
        : { language: 'python', source: SOURCE, sessionId, stdin: '20 22\n' };
    if (MODE === 'submit') Object.assign(payload, { mode: 'submit', problemId });
    try {
      const ack = await call(s, 'run:start', payload);
      mine.push(ack.runId);
      counts.started++;
    } catch (err) {
      if (err.code === 'BUSY') counts.busy++;
      else if (err.code === 'RATE_LIMITED') counts.rateLimited++;
      else inc(counts.errors, err.code ?? err.message);
    }
    await sleep(Math.max(0, next - Date.now()));
  }
  return mine;
}

/**
 * Who published a dashboard update: the gateway (a member; a run admitted, `queued`) or the
 * worker (a run's later statuses and verdict, its tests, the progress it recorded).
 */
const publishedBy = (u) =>
  u.kind === 'member' || (u.kind === 'run' && u.run.status === 'queued') ? 'gateway' : 'worker';

/** An instructor's view of the feed: latencies, seqs, the runs seen, and seen finished. */
function dashboard(s, sessionId) {
  const d = {
    s,
    latency: { worker: [], gateway: [] },
    seqs: [],
    runs: new Set(),
    finished: new Set(),
    progress: 0,
    from: 0,
  };
  s.on('dashboard:update', (u) => {
    if (u.sessionId !== sessionId) return;
    if (u.at) d.latency[publishedBy(u)].push(Date.now() - Date.parse(u.at));
    d.seqs.push(u.seq);
    if (u.kind === 'run') d.runs.add(u.run.runId);
    if (u.kind === 'run' && u.run.status === 'finished') d.finished.add(u.run.runId);
    if (u.kind === 'progress') d.progress++;
  });
  return d;
}

/** Seqs in (from, to] that were missing or came more than once. */
function audit(d, to) {
  const seen = new Map();
  for (const q of d.seqs) seen.set(q, (seen.get(q) ?? 0) + 1);
  let missing = 0;
  let dup = 0;
  for (let q = d.from + 1; q <= to; q++) {
    const n = seen.get(q) ?? 0;
    if (n === 0) missing++;
    if (n > 1) dup += n - 1;
  }
  const outside = d.seqs.filter((q) => q <= d.from || q > to).length;
  return { missing, dup, outside, received: d.seqs.length };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  mkdirSync(LOG_DIR, { recursive: true });
  const started = new Date();
  const load0 = loadavg();
  const ports = [await freePort(), await freePort()];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const gateways = ports.map((p, i) =>
    service(`gateway-${i}`, 'server/dist/src/main.js', { PORT: String(p) }),
  );
  for (let i = 0; i < WORKERS; i++) {
    service(`worker-${i}`, 'worker/dist/src/main.js', {
      WORKER_ID: `bench-classroom-${i}`,
      WORKER_HTTP_PORT: String(await freePort()),
    });
  }
  for (const u of urls) {
    if (!(await waitHttp(`${u}/ready`, 90000))) throw new Error(`${u} is not ready`);
  }
  const token = (url, name, role) => devToken(url, name, role);

  // Warm up the workers' pools and the services' code paths (not measured).
  const teacher = await connect(urls[0], await token(urls[0], 'bench-teacher', 'instructor'));
  const warm = await Promise.allSettled(
    Array.from({ length: 4 }, () =>
      call(teacher, 'run:start', { language: 'python', source: 'print(1)' }),
    ),
  );
  await sleep(5000);
  const { problem: p } = await call(teacher, 'problem:create', problem);
  const { session } = await call(teacher, 'session:create', {
    title: 'bench',
    problemIds: [p.problemId],
  });
  const sessionId = session.sessionId;
  await sleep(2000);
  const base = gateways.map((g) => rss(g.pid));

  // Members: students and instructors alternate between the nodes.
  const connectAs = async (name, role, i) => {
    const url = urls[i % 2];
    const s = await connect(url, await token(url, name, role));
    return s;
  };
  const students = [];
  for (let i = 0; i < STUDENTS; i += 10) {
    const batch = Array.from({ length: Math.min(10, STUDENTS - i) }, (_, k) => i + k);
    students.push(
      ...(await Promise.all(
        batch.map(async (n) => {
          const s = await connectAs(`bench-student-${n}`, 'student', n);
          await call(s, 'session:join', { joinCode: session.joinCode });
          return s;
        }),
      )),
    );
  }
  const instructors = [];
  for (let i = 0; i < INSTRUCTORS; i++) {
    const s = await connectAs(`bench-instructor-${i}`, 'instructor', i);
    await call(teacher, 'session:instructors', { sessionId, add: [`dev:bench-instructor-${i}`] });
    await call(s, 'session:join', { joinCode: session.joinCode });
    instructors.push(s);
  }
  const boards = instructors.map((s) => dashboard(s, sessionId));
  for (const d of boards) d.from = (await call(d.s, 'dashboard:watch', { sessionId })).seq;
  await sleep(2000);
  const idle = gateways.map((g) => rss(g.pid));
  // The gateways' own count of sockets (node 0 also holds the teacher's, connected before `base`).
  const counted = await Promise.all(urls.map(sockets));
  const members = [0, 1].map(
    (n) => Math.ceil((STUDENTS - n) / 2) + Math.ceil((INSTRUCTORS - n) / 2),
  );

  // The shared document: an editor on each node; every member counts what reaches it.
  const sent = new Map(); // update (base64) -> [emit time, sender's node]
  const docAck = []; // emit to ack (the update is stored): ms
  const crossNode = [];
  const docReceived = new Map();
  const all = [...students, ...instructors];
  // What the members' sockets receive, by event: how many, and their size (every 20th measured).
  const inbound = new Map();
  let counting = false;
  for (const s of all) {
    s.onAny((event, payload) => {
      if (!counting) return;
      const e = inbound.get(event) ?? { n: 0, sampled: 0, bytes: 0 };
      if (e.n++ % 20 === 0) (e.sampled++, (e.bytes += JSON.stringify(payload).length));
      inbound.set(event, e);
    });
  }
  all.forEach((s, i) => {
    const node = i < STUDENTS ? i % 2 : (i - STUDENTS) % 2;
    s.on('doc:update', (e) => {
      const t = performance.now();
      docReceived.set(s, (docReceived.get(s) ?? 0) + 1);
      const from = sent.get(e.update);
      if (from && from[1] !== node) crossNode.push(t - from[0]);
    });
  });
  const editors = [students[0], students[1]].map((s, node) => {
    const doc = new Y.Doc();
    s.on('doc:update', (e) => Y.applyUpdate(doc, Buffer.from(e.update, 'base64'), 'remote'));
    return { s, doc, node, sent: 0, acked: 0, refused: 0 };
  });
  const type = async (e, end) => {
    const text = e.doc.getText('main.py');
    let i = 0;
    while (Date.now() < end) {
      const next = Date.now() + 1000 / DOC_RATE;
      const before = Y.encodeStateVector(e.doc);
      text.insert(Math.floor(Math.random() * (text.length + 1)), `${e.node}${i++ % 10}`);
      const update = Buffer.from(Y.encodeStateAsUpdate(e.doc, before)).toString('base64');
      sent.set(update, [performance.now(), e.node]);
      const t0 = performance.now();
      e.sent++;
      call(e.s, 'doc:update', { sessionId, update }).then(
        () => (e.acked++, docAck.push(performance.now() - t0)),
        () => e.refused++,
      );
      await sleep(Math.max(0, next - Date.now()));
    }
  };

  // The load.
  let busiest = gateways.map(() => 0);
  const sampler = setInterval(
    () => (busiest = gateways.map((g, i) => Math.max(busiest[i], rss(g.pid)))),
    1000,
  );
  const gatewaysBefore = await Promise.all(urls.map(gatewayMetrics));
  const loopDelay = eventLoop();
  counting = true;
  const meter = cpuMeter();
  const loadStart = Date.now();
  const end = Date.now() + SECONDS * 1000;
  const [runIds] = await Promise.all([
    Promise.all(students.map((s) => student(s, sessionId, p.problemId, end))).then((r) => r.flat()),
    DOC_RATE > 0 ? Promise.all(editors.map((e) => type(e, end))) : null,
  ]);
  clearInterval(sampler);
  counting = false;
  const cpu = cpuShareRows(meter.end(), (Date.now() - loadStart) / 1000);
  const gatewaysAfter = await Promise.all(urls.map(gatewayMetrics));

  const loop = loopDelay.stop();
  // Let the runs in flight finish and the feed settle; then the feed's head, from a new watch.
  const graceEnd = Date.now() + GRACE_SECONDS * 1000;
  // Settled: every run finished at its student and on every dashboard (a submission's last
  // update is its progress, after its verdict), every edit answered.
  const settled = () =>
    runIds.every((r) => finishedAtStudent.has(r)) &&
    boards.every(
      (d) =>
        runIds.every((r) => d.finished.has(r)) &&
        (MODE !== 'submit' || d.progress >= runIds.length),
    ) &&
    editors.every((e) => e.acked + e.refused === e.sent);
  while (Date.now() < graceEnd && !settled()) {
    await sleep(250);
  }
  const checker = await connectAs('bench-teacher', 'instructor', 0);
  const head = (await call(checker, 'dashboard:watch', { sessionId })).seq;
  while (Date.now() < graceEnd + 5000 && !boards.every((d) => Math.max(...d.seqs) >= head)) {
    await sleep(100);
  }
  const edits = editors.reduce((n, e) => n + e.acked, 0);
  const inFlight = editors.reduce((n, e) => n + e.sent - e.acked - e.refused, 0);
  const converged =
    editors[0].doc.getText('main.py').toString() === editors[1].doc.getText('main.py').toString();

  // Report.
  const latency = {
    worker: boards.flatMap((d) => d.latency.worker),
    all: boards.flatMap((d) => [...d.latency.worker, ...d.latency.gateway]),
  };
  const noProgress = boards.map((d) => Math.max(0, runIds.length - d.progress));
  const audits = boards.map((d) => audit(d, head));
  const unseen = boards.map((d) => runIds.filter((r) => !d.runs.has(r)).length);
  const unfinished = boards.map((d) => runIds.filter((r) => !d.finished.has(r)).length);
  const expectEdits = (s) =>
    s === editors[0].s ? editors[1].acked : s === editors[1].s ? editors[0].acked : edits;
  const docShort = all.filter((s) => (docReceived.get(s) ?? 0) < expectEdits(s)).length;
  const f = (x) => (x === undefined ? '-' : x < 10 ? x.toFixed(1) : x.toFixed(0));
  const q = (xs) =>
    xs.length === 0
      ? '-'
      : [50, 95, 99].map((n) => f(pct(xs, n))).join(' / ') + ` / ${f(Math.max(...xs))}`;
  const kib = (b) => (b / 1024).toFixed(0);
  const mib = (b) => (b / 2 ** 20).toFixed(1);

  console.log(`\n## Classroom benchmark: ${started.toISOString()}\n`);
  console.log(
    `${machine()}; load average before ${load0.map((l) => l.toFixed(1)).join(' ')}, after ` +
      `${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}. ${STUDENTS} students and ${INSTRUCTORS} ` +
      `instructors over 2 gateways (${members.join(' + ')} members; the gateways count ${counted.join(' + ')} sockets), ${WORKERS} workers; ` +
      `mode \`${MODE}\`, a ${MODE === 'submit' ? 'submission (3 tests)' : 'run'} per student every ~${RUN_EVERY_MS} ms for ${SECONDS} s; ` +
      `${DOC_RATE} document edits/s from one student on each node.\n`,
  );
  console.log(
    '| dashboard latency from the worker p50 / p95 / p99 / max (ms) | all updates | updates received per instructor | missing / duplicate / out of range seqs | accepted runs not on the dashboard | not seen finished there | without progress |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  console.log(
    `| ${q(latency.worker)} (${latency.worker.length}) | ${q(latency.all)} (${latency.all.length}) | ` +
      `${audits.map((a) => a.received).join(', ')} (head seq ${head}) | ` +
      `${audits.map((a) => `${a.missing}/${a.dup}/${a.outside}`).join(', ')} | ` +
      `${unseen.join(', ')} of ${runIds.length} | ${unfinished.join(', ')} | ` +
      `${MODE === 'submit' ? noProgress.join(', ') : '-'} |`,
  );
  console.log(
    `\nRuns: ${counts.started} accepted, ${counts.busy} BUSY, ${counts.rateLimited} RATE_LIMITED, ` +
      `errors ${JSON.stringify(counts.errors)}; ${runIds.filter((r) => finishedAtStudent.has(r)).length} ` +
      `finished at their student; warm-up ${warm.filter((w) => w.status === 'fulfilled').length}/4. ` +
      `The benchmark's event loop delay during the load: p99 ${f(loop.p99)} ms, max ${f(loop.max)} ms.\n`,
  );
  console.log(
    '| document propagation between nodes p50 / p95 / p99 / max (ms) | doc:update ack (stored) p50 / p95 / p99 / max | edits acked / refused / unanswered | members short of an edit | editors converged |',
  );
  console.log('| --- | --- | --- | --- | --- |');
  console.log(
    `| ${crossNode.length ? q(crossNode) : '-'} (${crossNode.length} deliveries) | ` +
      `${docAck.length ? q(docAck) : '-'} | ${edits} / ` +
      `${editors.reduce((n, e) => n + e.refused, 0)} / ${inFlight} | ${docShort} of ${all.length} | ${converged} |`,
  );
  console.log(
    `\nWhat the ${all.length} members' sockets received during the load (${SECONDS} s): ` +
      [...inbound.entries()]
        .sort((a, b) => b[1].n * (b[1].bytes / b[1].sampled) - a[1].n * (a[1].bytes / a[1].sampled))
        .map(
          ([event, e]) =>
            `\`${event}\` ${e.n} (~${(e.bytes / e.sampled / 1024).toFixed(1)} KiB each, ` +
            `${((e.n * e.bytes) / e.sampled / 2 ** 20 / SECONDS).toFixed(2)} MiB/s)`,
        )
        .join(', ') +
      '.',
  );
  console.log(
    '\n| gateway | RSS before | members | idle, per member | busiest, per member | CPU during the load | event-loop lag p99 / max |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  gateways.forEach((_, i) =>
    console.log(
      `| ${i} | ${mib(base[i])} MiB | ${members[i]} | +${mib(idle[i] - base[i])} MiB, ` +
        `${kib((idle[i] - base[i]) / members[i])} KiB | +${mib(busiest[i] - base[i])} MiB, ` +
        `${kib((busiest[i] - base[i]) / members[i])} KiB | ` +
        `${(((gatewaysAfter[i].cpuSeconds - gatewaysBefore[i].cpuSeconds) / SECONDS) * 100).toFixed(0)}% of a core | ` +
        `${f(gatewaysAfter[i].lagP99Ms)} / ${f(gatewaysAfter[i].lagMaxMs)} ms |`,
    ),
  );
  console.log('\nCPU by part during the load (cpu.mjs; 100% is one of the cores):\n');
  console.log('| part | CPU |');
  console.log('| --- | --- |');
  for (const row of cpu) console.log(row);
  [...all, teacher, checker].forEach((s) => s.disconnect());
  await stopAll();
}

main().then(
  () => process.exit(0),
  async (err) => {
    console.error(err);
    await stopAll();
    process.exit(1);
  },
);
