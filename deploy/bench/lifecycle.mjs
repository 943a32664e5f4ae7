#!/usr/bin/env node
// The ceiling of one container per run on this machine: the worker's own DockerRepository (the
// same hardened container, per-sandbox cgroup and runner as a real run) creates, attaches,
// starts, feeds a Python hello world to, waits for and removes sandboxes in a loop, with no
// gateway, queue, database or warm pool. Runs/s at concurrency 1, 2, 4 and 8 for
// BENCH_SECONDS (15) each. Needs only Docker and the built worker (`npm run build`) and images:
// `BENCH=lifecycle node deploy/local/stack.mjs bench`.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO, machine, pct } from './common.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const dist = (p) => pathToFileURL(join(REPO, 'worker/dist/src', p)).href;
const { DockerRepository } = await import(dist('repositories/docker.repository.js'));
const { encodeRunnerInput } = await import(dist('services/runner-protocol.js'));

const docker = new DockerRepository({
  dockerSocket: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock',
  redisUrl: 'bench-lifecycle',
  runtime: 'runc',
  seccompProfile: join(REPO, 'sandbox/seccomp/coderoom.json'),
});
await docker.onModuleInit();
const spec = {
  image: `coderoom-sandbox-base:${process.env.SANDBOX_IMAGE_TAG ?? 'latest'}`,
  memoryMb: 256,
  cpus: 1,
  pids: 64,
  tmpfsMb: 64,
  fileSizeMb: 64,
  openFiles: 256,
  cpuSeconds: 6,
  labels: { 'coderoom.bench': 'lifecycle' },
};
const input = encodeRunnerInput(null, '@python main.py', [
  { path: 'main.py', content: 'print("hi")' },
]);

/** One sandbox's whole life; resolves its duration in ms. */
async function lifecycle() {
  const t0 = performance.now();
  const id = await docker.create(spec);
  try {
    const io = await docker.attach(id);
    const exited = docker.waitForExit(id);
    let out = '';
    io.onStdout((b) => (out += b.toString()));
    await docker.start(id);
    io.write(input);
    io.closeStdin();
    const code = await exited;
    await Promise.race([io.ended, new Promise((r) => setTimeout(r, 500))]);
    if (code !== 0 || !out.includes('hi')) throw new Error(`exit ${code}, output ${out}`);
  } finally {
    await docker.remove(id);
  }
  return performance.now() - t0;
}

console.log(`# One container per run, no services: ${new Date().toISOString().slice(0, 10)}`);
console.log(`# machine: ${machine()}; create + attach + start + Python hello + wait + remove`);
console.log('');
console.log('| concurrency | lifecycles/s | median (ms) | p95 (ms) | errors |');
console.log('|---|---|---|---|---|');
try {
  await lifecycle(); // warm-up
  for (const n of [1, 2, 4, 8]) {
    const deadline = performance.now() + SECONDS * 1000;
    const times = [];
    let errors = 0;
    await Promise.all(
      Array.from({ length: n }, async () => {
        while (performance.now() < deadline) {
          try {
            times.push(await lifecycle());
          } catch (err) {
            if (errors++ === 0) console.error(err.message);
          }
        }
      }),
    );
    console.log(
      `| ${n} | ${(times.length / SECONDS).toFixed(1)} | ${pct(times, 50).toFixed(0)} | ${pct(times, 95).toFixed(0)} | ${errors} |`,
    );
  }
} finally {
  await docker.removeLabelled('coderoom.bench=lifecycle');
}
