#!/usr/bin/env node
// The ceiling of the slot tier on this machine (sandbox/slot/README.md), like lifecycle.mjs for
// one container per run: the worker's own SlotPoolService and SlotRepository (the same slot
// containers, supervisor, bwrap sandboxes and cgroup accounting as a real run) take a slot, feed
// a Python hello world to its ready sandbox, wait for its end and give the slot back, in a loop,
// with no gateway, queue or database. Runs/s at concurrency 1, 2, 4 and 8 for BENCH_SECONDS (15)
// each (BENCH_CONCURRENCY=1,4 picks them), and the CPU time per run of the slot containers (cgroup)
// and of dockerd + containerd. SANDBOX_SLOT_SUPERVISOR runs another supervisor (to try a change).
// Needs Docker, the built worker (`npm run build`) and images with bubblewrap:
// `BENCH=slot-lifecycle node deploy/local/stack.mjs bench`.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO, machine, pct } from './common.mjs';
import { localSlotSockets } from '../local/service-args.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const dist = (p) => pathToFileURL(join(REPO, 'worker/dist/src', p)).href;
const { DockerRepository } = await import(dist('repositories/docker.repository.js'));
const { SlotRepository } = await import(dist('repositories/slot.repository.js'));
const { SlotPoolService } = await import(dist('services/slot-pool.service.js'));
const { encodeRunnerInput } = await import(dist('services/runner-protocol.js'));

const config = {
  dockerSocket: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock',
  redisUrl: 'bench-slot-lifecycle',
  runtime: 'runc',
  tier: 'slot',
  tierByLanguage: {},
  seccompProfile: join(REPO, 'sandbox/seccomp/coderoom.json'),
  slotSeccompProfile: join(REPO, 'sandbox/seccomp/coderoom-slot.json'),
  slotSupervisor: process.env.SANDBOX_SLOT_SUPERVISOR ?? join(REPO, 'sandbox/slot/supervisor.py'),
  slotAppArmor: '',
  // As the other benchmarks and `npm start`: frames over the slots' own sockets (empty: attach).
  slotSocketDir: localSlotSockets(),
  slotRuns: 100_000, // no recycling inside a cell: the cgroups of retired slots would vanish from the sum
  workerId: 'bench-slot',
  warmPoolSize: 8,
  warmPoolMax: 16,
  warmPoolLanguages: [],
  concurrency: 8,
  sandboxStartMs: 30_000,
};
const docker = new DockerRepository(config);
await docker.onModuleInit();
const repo = new SlotRepository(config, docker);
const janitor = {
  ready: Promise.resolve(),
  dispose: (id) => void docker.remove(id).catch(() => undefined),
};
const quiet = { error: () => undefined };
const slots = new SlotPoolService(config, repo, docker, janitor, { get: () => undefined }, quiet);
const spec = {
  image: `coderoom-sandbox-base:${process.env.SANDBOX_IMAGE_TAG ?? 'latest'}`,
  memoryMb: 256,
  cpus: 1,
  pids: 64,
  tmpfsMb: 64,
  fileSizeMb: 64,
  openFiles: 256,
  cpuSeconds: 6,
};
const input = encodeRunnerInput(null, '@python main.py', [
  { path: 'main.py', content: 'print("hi")' },
]);

/** One run in a slot; resolves its duration in ms. */
async function run() {
  const t0 = performance.now();
  const sandbox = await slots.take(spec);
  let clean = false;
  try {
    let out = '';
    sandbox.io.onStdout((b) => (out += b.toString()));
    sandbox.io.write(input);
    sandbox.io.closeStdin();
    const code = await sandbox.exited;
    if (code !== 0 || !out.includes('hi')) throw new Error(`exit ${code}, output ${out}`);
    clean = true;
  } finally {
    sandbox.release(clean);
  }
  return performance.now() - t0;
}

/** CPU time (ms) of the processes named so far, from /proc (dockerd, containerd and shims). */
function engineCpuMs() {
  const tick = 1000 / 100;
  let ms = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!/^(dockerd|containerd|containerd-shim)/.test(name)) continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += (Number(f[11]) + Number(f[12])) * tick;
    } catch {
      // gone
    }
  }
  return ms;
}
/** CPU time (ms) of all cgroups below /coderoom (the slot containers of this benchmark). */
function slotCpuMs() {
  const base = '/sys/fs/cgroup/cpuacct/coderoom';
  let ns = 0;
  try {
    for (const d of readdirSync(base)) {
      try {
        ns += Number(readFileSync(join(base, d, 'cpuacct.usage'), 'utf8'));
      } catch {
        // removed meanwhile
      }
    }
  } catch {
    return NaN;
  }
  return ns / 1e6;
}

console.log(`# Slot tier, no services: ${new Date().toISOString().slice(0, 10)}`);
console.log(
  `# machine: ${machine()}; take a slot + Python hello in its ready bwrap sandbox + wait + give back`,
);
console.log('');
console.log(
  '| concurrency | runs/s | median (ms) | p95 (ms) | slot CPU/run (ms) | dockerd+containerd CPU/run (ms) | errors |',
);
console.log('|---|---|---|---|---|---|---|');
try {
  for (let i = 0; i < 3; i++) await run(); // warm-up: the first slot
  for (const n of (process.env.BENCH_CONCURRENCY ?? '1,2,4,8').split(',').map(Number)) {
    await Promise.all(Array.from({ length: n }, () => run())); // n slots exist
    const deadline = performance.now() + SECONDS * 1000;
    const times = [];
    let errors = 0;
    const [slot0, engine0] = [slotCpuMs(), engineCpuMs()];
    await Promise.all(
      Array.from({ length: n }, async () => {
        while (performance.now() < deadline) {
          try {
            times.push(await run());
          } catch (err) {
            if (errors++ === 0) console.error(err.message);
          }
        }
      }),
    );
    const per = (x) => (times.length ? (x / times.length).toFixed(1) : '-');
    console.log(
      `| ${n} | ${(times.length / SECONDS).toFixed(1)} | ${pct(times, 50).toFixed(1)} | ${pct(times, 95).toFixed(1)} | ${per(slotCpuMs() - slot0)} | ${per(engineCpuMs() - engine0)} | ${errors} |`,
    );
  }
} finally {
  await slots.beforeApplicationShutdown();
  await docker.removeLabelled('coderoom.worker=bench-slot');
}
