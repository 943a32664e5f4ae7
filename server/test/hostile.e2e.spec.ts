// The hostile-code corpus (sandbox/hostile/manifest.json) through the real path: socket.io ->
// gateway -> BullMQ -> worker -> Docker, on every execution tier (TIERS: a fresh container per
// run, and slot containers with a fresh bubblewrap sandbox per run). For every attack: the
// expected verdict, in time, its container gone (container tier), and a harmless run started at
// the same moment unaffected. Across the corpus: the worker's memory stays bounded and the host's
// disk, files and processes are untouched. See sandbox/hostile/README.md for what each attack is
// and why it is safe, and what differs on the slot tier.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RunStartPayload } from '@coderoom/contracts';
import {
  REPO,
  TEST_JWT_SECRET,
  containersOf,
  containersWith,
  runToEnd,
  startRun,
  startStack,
  text,
  until,
  type ClientSocket,
  type RunRecord,
  type Stack,
} from './harness.js';

const WALL_MS = 3000;
const COMPILE_WALL_MS = 5000;
/** CPU time per stage, summed over processes and threads: a busy program meets it first. */
const CPU_MS = 1500;
const COMPILE_CPU_MS = 4000;
const OUTPUT_LIMIT = 65536;
const MEMORY_MB = 256;
const PIDS = 64;
/** On top of a limit: start-up, the kill, draining, Redis and socket.io. */
const MARGIN_MS = 2500;
const WORKER_ID = 'test-hostile';
const HOSTILE = join(REPO, 'sandbox/hostile');
const RUNNER = join(REPO, 'sandbox/runner/coderoom-runner');
const SECCOMP = join(REPO, 'sandbox/seccomp');
/** The sandbox's floor of oom_score_adj (DockerRepository's SANDBOX_OOM_SCORE_ADJ). */
const SANDBOX_OOM_SCORE_ADJ = 500;

/** An execution tier: its name and the worker environment that selects it. */
interface Tier {
  name: string;
  env: Record<string, string>;
  redisDb: number;
}
const TIERS: Tier[] = [
  { name: 'container', env: { SANDBOX_TIER: 'container' }, redisDb: 9 },
  { name: 'slot', env: { SANDBOX_TIER: 'slot' }, redisDb: 44 },
];

/** One entry of sandbox/hostile/manifest.json (the fields are described in its README). */
interface Expectation {
  /** The verdict; or, with `error`, none: the gateway refuses the run with this error code. */
  verdict?: string;
  error?: string;
  exitCode?: number;
  signal?: string;
  truncated?: boolean;
  stdoutIncludes?: string[];
  stdoutExcludes?: string[];
  stdoutMatches?: string;
  outputAtLimit?: boolean;
  memoryAtLimit?: boolean;
  compileLogCapped?: boolean;
  noSecrets?: boolean;
  hostProcessAbsent?: string;
  checkAgainAfterMs?: number;
  hostFilesUnchanged?: string[];
  hostPathsAbsent?: string[];
  beforeWallClock?: boolean;
}
interface Attack {
  name: string;
  language: string;
  /** The program's source; a `.json` file is a multi-file program (`files` of run:start). */
  file: string;
  stdin?: string;
  expect: Expectation;
}

const corpus = JSON.parse(readFileSync(join(HOSTILE, 'manifest.json'), 'utf8')) as Attack[];
/** Languages installed in this checkout (C++ and others arrive over time). */
const installed = (language: string) =>
  existsSync(join(REPO, 'sandbox/languages', language, 'language.json'));
const compiled = (language: string) =>
  (
    JSON.parse(
      readFileSync(join(REPO, 'sandbox/languages', language, 'language.json'), 'utf8'),
    ) as { compile: string | null }
  ).compile !== null;

let stack: Stack;
let mallory: ClientSocket;
let alice: ClientSocket;
let secrets: string[] = [];
let rssBaselineKb = 0;
const rssSamplesKb: number[] = [];
let diskBefore = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const freeBytes = (path: string): number => {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
};
/**
 * Free space on the host's root filesystem may drop by at most `limit` bytes since `before`.
 * An image build on the same machine (another engineer, another test) writes hundreds of MB:
 * then the number says nothing about the sandboxes, and the check is skipped with a warning.
 */
const expectDiskKept = (before: number, limit: number, what: string): void => {
  const dropped = before - freeBytes('/');
  if (dropped < limit) return;
  const builder = /debootstrap|build-images|docker (build|import)/.exec(hostProcesses());
  if (builder) {
    console.warn(`${what}: ${dropped} bytes less free disk, not checked: "${builder[0]}" runs`);
    return;
  }
  expect({ what, dropped }).toEqual({ what, dropped: `< ${limit}` });
};
const workerRssKb = (): number => {
  const status = readFileSync(`/proc/${stack.workerPid()}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error('no VmRSS in the worker status');
  return Number(m[1]);
};
const sha256 = (path: string): string | null => {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return null; // not readable by this test
  }
};
const hostProcesses = (): string => execFileSync('ps', ['-eo', 'args']).toString();

function useStack(tier: Tier): void {
  beforeAll(async () => {
    rssSamplesKb.length = 0;
    stack = await startStack({
      name: `hostile-${tier.name}`,
      redisDb: tier.redisDb,
      // Alice starts a harmless run beside every attack: more than a student's 30 a minute.
      gatewayEnv: { RUN_QUOTAS: JSON.stringify({ student: { perMinute: 1000 } }) },
      workerEnv: {
        WORKER_ID,
        RUN_WALL_MS: String(WALL_MS),
        COMPILE_WALL_MS: String(COMPILE_WALL_MS),
        RUN_CPU_MS: String(CPU_MS),
        COMPILE_CPU_MS: String(COMPILE_CPU_MS),
        OUTPUT_LIMIT_BYTES: String(OUTPUT_LIMIT),
        RUN_MEMORY_MB: String(MEMORY_MB),
        RUN_PIDS: String(PIDS),
        WORKER_CONCURRENCY: '2',
        ...tier.env,
      },
    });
    mallory = await stack.connect(await stack.token('mallory'));
    alice = await stack.connect(await stack.token('alice'));

    // Everything of ours that must never reach a sandbox: the secrets and connection strings the
    // worker (and the gateway, same environment) actually runs with.
    const workerEnv = readFileSync(`/proc/${stack.workerPid()}/environ`, 'utf8')
      .split('\0')
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const);
    secrets = [
      TEST_JWT_SECRET,
      stack.redisUrl,
      stack.mongoUri,
      ...workerEnv
        .filter(
          ([k, v]) => /SECRET|TOKEN|PASSW|_KEY|_URI|_URL|CREDENTIAL/i.test(k) && v.length >= 8,
        )
        .map(([, v]) => v),
    ];
    expect(secrets.length).toBeGreaterThanOrEqual(3);

    // Warm-up (module loading, connection pools) so the RSS baseline is the worker's steady state.
    for (const language of ['python', 'javascript', 'c']) {
      const run = await runToEnd(alice, { language, source: helloSource(language) }).catch(
        (err: Error) => {
          throw new Error(`warm-up ${language}: ${err.message}\n${stack.logs().slice(-5000)}`);
        },
      );
      expect(run.finished.verdict).toBe('OK');
    }
    rssBaselineKb = workerRssKb();
    diskBefore = freeBytes('/');
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  }, 30_000);
}

function helloSource(language: string): string {
  if (language === 'python') return 'print("hello")';
  if (language === 'javascript') return 'console.log("hello")';
  return '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n';
}

/** How long a run may take, from the status it reached, given the limits. */
function checkTiming(run: RunRecord, language: string): void {
  const at = (s: string) => {
    const e = run.statuses.find((x) => x.status === s);
    return e ? Date.parse(e.at) : null;
  };
  const compiling = at('compiling');
  const running = at('running');
  if (compiled(language)) expect(compiling).not.toBeNull();
  if (compiling !== null) {
    expect((running ?? run.finishedAt) - compiling).toBeLessThan(COMPILE_WALL_MS + MARGIN_MS);
  }
  if (running !== null) expect(run.finishedAt - running).toBeLessThan(WALL_MS + MARGIN_MS);
  const whole = WALL_MS + (compiled(language) ? COMPILE_WALL_MS : 0) + 2 * MARGIN_MS;
  expect(run.finishedAt - run.startedAt).toBeLessThan(whole);
}

describe.each(TIERS)('on the $name tier', (tier) => {
  useStack(tier);
  corpusTests(tier);
  seccompTests();
  if (tier.name === 'container') {
    containerSettingsTests();
    memoryPressureTests();
  } else {
    slotSettingsTests();
  }
});

function corpusTests(tier: Tier): void {
  describe('the hostile corpus', () => {
    it('covers the required attacks in python, javascript and c', () => {
      for (const a of corpus) {
        expect(existsSync(join(HOSTILE, a.file))).toBe(true);
        if (a.expect.error !== undefined) expect(a.expect.verdict).toBeUndefined();
        else expect(a.expect.verdict).toMatch(/^(OK|CE|RE|TLE|MLE|OLE)$/);
      }
      const files = corpus.map((a) => a.file);
      for (const f of [
        'fork-bomb.c',
        'thread-bomb.c',
        'memory-2gib.py',
        'infinite-loop.js',
        'sleep-forever.py',
        'print-forever.py',
        'invalid-utf8.py',
        'fill-tmp.py',
        'many-files.py',
        'network.py',
        'environ.py',
        'orphan.py',
        'symlinks.py',
        'c-macro-bomb.c',
        'seccomp.c',
        'oom-score.py',
        'path-conflict.json',
      ]) {
        expect(files).toContain(f);
      }
      for (const a of corpus) {
        if (['python', 'javascript', 'c'].includes(a.language))
          expect(installed(a.language)).toBe(true);
      }
    });

    const runnable = corpus.filter((a) => installed(a.language));
    it.each(runnable.map((a) => [`${a.name} (${a.file})`, a] as const))(
      '%s',
      async (_name, attack) => {
        const e = attack.expect;
        const source = readFileSync(join(HOSTILE, attack.file), 'utf8');
        const hashes = new Map((e.hostFilesUnchanged ?? []).map((p) => [p, sha256(p)]));
        const disk = freeBytes('/');

        // The attack and a harmless run start at the same moment, on the same worker.
        const payload: RunStartPayload = attack.file.endsWith('.json')
          ? {
              language: attack.language,
              files: JSON.parse(source) as { path: string; content: string }[],
            }
          : { language: attack.language, source };
        if (attack.stdin !== undefined) payload.stdin = attack.stdin;
        if (e.error !== undefined) {
          // Refused before anything runs: no run, no container, no system error to count.
          const refused = await startRun(mallory, payload);
          expect(refused.ack).toMatchObject({ ok: false, error: { code: e.error } });
          return;
        }
        const [a, h] = await Promise.all([
          startRun(mallory, payload),
          startRun(alice, { language: 'python', source: 'print("hello")' }),
        ]);
        expect(a.ack.ok).toBe(true);
        expect(h.ack.ok).toBe(true);
        const limit = WALL_MS + COMPILE_WALL_MS + 3 * MARGIN_MS;
        const [run, hello] = await Promise.all([a.done(limit), h.done(limit)]);

        if (e.hostProcessAbsent) {
          // Right away: the background process would still be sleeping if it had survived.
          expect(hostProcesses()).not.toContain(e.hostProcessAbsent);
        }

        const stdout = text(run.outputs, 'stdout');
        const stderr = text(run.outputs, 'stderr');
        const compile = text(run.outputs, 'compile');
        const all = `${compile}${stdout}${stderr}`;
        const context = `${attack.file}: ${JSON.stringify(run.finished)}\nstdout: ${stdout.slice(0, 600)}\nstderr: ${stderr.slice(0, 600)}\ncompile: ${compile.slice(0, 300)}`;

        // The verdict and what else must hold.
        expect({ context, verdict: run.finished.verdict }).toEqual({ context, verdict: e.verdict });
        if (e.exitCode !== undefined) expect(run.finished.exitCode).toBe(e.exitCode);
        if (e.signal !== undefined) expect(run.finished.signal).toBe(e.signal);
        expect(run.finished.truncated).toBe(e.truncated ?? false);
        for (const s of e.stdoutIncludes ?? []) expect(stdout).toContain(s);
        for (const s of e.stdoutExcludes ?? []) expect(stdout).not.toContain(s);
        if (e.stdoutMatches) expect(stdout).toMatch(new RegExp(e.stdoutMatches));
        if (e.outputAtLimit) {
          // Exactly the limit got through (ASCII floods: one byte per character), nothing more.
          expect(Buffer.byteLength(stdout) + Buffer.byteLength(stderr)).toBe(OUTPUT_LIMIT);
        }
        if (e.compileLogCapped) {
          // The runner caps the log at 65536 bytes; a cut UTF-8 sequence becomes one U+FFFD.
          expect(Buffer.byteLength(compile)).toBeGreaterThan(60_000);
          expect(Buffer.byteLength(compile)).toBeLessThanOrEqual(65536 + 3);
        }
        if (e.noSecrets) for (const s of secrets) expect(all).not.toContain(s);
        if (e.memoryAtLimit) {
          expect(run.finished.memoryKb).toBeGreaterThanOrEqual(MEMORY_MB * 1024 * 0.9);
        }
        if (run.finished.memoryKb !== null) {
          expect(run.finished.memoryKb).toBeLessThanOrEqual(MEMORY_MB * 1024 + 1024);
        }

        // In time.
        checkTiming(run, attack.language);
        if (e.beforeWallClock) {
          // Stopped by its CPU time (counted over all its threads and processes), not the clock.
          expect(run.finished.timeMs).toBeGreaterThanOrEqual(CPU_MS * 0.9);
          expect(run.finished.timeMs).toBeLessThan(WALL_MS);
        }

        // The run next to it: untouched.
        expect(hello.finished).toMatchObject({ verdict: 'OK', exitCode: 0, truncated: false });
        expect(text(hello.outputs, 'stdout')).toBe('hello\n');
        expect(text(hello.outputs, 'stderr')).toBe('');
        expect(hello.finished.memoryKb).toBeGreaterThan(0);

        // Nothing left behind: containers, processes, host files and disk.
        await until(
          'the containers to be removed',
          () => containersOf(run.runId) === '' && containersOf(hello.runId) === '',
          10_000,
        );
        if (e.checkAgainAfterMs) await sleep(e.checkAgainAfterMs);
        if (e.hostProcessAbsent) expect(hostProcesses()).not.toContain(e.hostProcessAbsent);
        for (const [path, hash] of hashes) expect(sha256(path)).toBe(hash);
        for (const path of e.hostPathsAbsent ?? []) expect(existsSync(path)).toBe(false);
        // Nothing an attack does lands on the host's disk (a tmpfs fill would be 64 MiB).
        expectDiskKept(disk, 48 * 1024 * 1024, attack.file);

        rssSamplesKb.push(workerRssKb());
      },
      60_000,
    );

    it('kept the worker alive, its memory bounded and left no container of this worker', async () => {
      expect(rssSamplesKb.length).toBeGreaterThan(0);
      const grownMb = (Math.max(...rssSamplesKb) - rssBaselineKb) / 1024;
      expect(grownMb).toBeLessThan(100);
      // Slot containers outlive runs (idle ones wait for the next run): only they may be left.
      const ids = (s: string) => s.split('\n').filter(Boolean);
      const leftOver = () => {
        const slots = new Set(
          tier.name === 'slot' ? ids(containersWith('coderoom.slot=slot')) : [],
        );
        return ids(containersWith(`coderoom.worker=${WORKER_ID}`)).filter((id) => !slots.has(id));
      };
      await until('no container of the test worker', () => leftOver().length === 0, 10_000);
      if (tier.name === 'slot') {
        // Idle slots are bounded per (image, limits) by max(WARM_POOL_SIZE, WORKER_CONCURRENCY).
        expect(ids(containersWith(`coderoom.worker=${WORKER_ID}`)).length).toBeLessThanOrEqual(12);
      }
      // The host's disk: roughly where it was (other work on the machine may move it a little).
      expectDiskKept(diskBefore, 256 * 1024 * 1024, 'the whole corpus');
      // The worker still answers.
      const run = await runToEnd(alice, { language: 'python', source: 'print("still fine")' });
      expect(run.finished.verdict).toBe('OK');
      expect(text(run.outputs, 'stdout')).toBe('still fine\n');
    }, 60_000);
  });
}

function containerSettingsTests(): void {
  describe('sandbox settings', () => {
    it('runs every program in a hardened container and removes its cgroup afterwards', async () => {
      const started = await startRun(alice, {
        language: 'python',
        source: 'import time\nprint("up", flush=True)\ntime.sleep(30)',
      });
      expect(started.ack).toMatchObject({ ok: true });
      await until('the program to start', () => started.outputs.length > 0, 20_000);
      const id = containersOf(started.runId);
      expect(id).not.toBe('');
      const [info] = JSON.parse(execFileSync('docker', ['inspect', id]).toString()) as [
        {
          Config: { User: string; Env: string[] | null };
          HostConfig: Record<string, unknown> & {
            Tmpfs: Record<string, string>;
            Ulimits: { Name: string; Soft: number; Hard: number }[];
            LogConfig: { Type: string };
            SecurityOpt: string[];
            CgroupParent: string;
          };
          Mounts: unknown[];
        },
      ];
      const hc = info.HostConfig;
      // Its own uid and gid (random, far above host accounts; see the next test).
      const [uid, gid] = info.Config.User.split(':').map(Number);
      expect(gid).toBe(uid);
      expect(uid).toBeGreaterThanOrEqual(2 ** 20);
      expect(uid).toBeLessThan(2 ** 31);
      expect(info.Mounts).toEqual([]); // no bind mount, no volume: no file is shared with the host
      expect(hc.Binds ?? null).toBeNull();
      expect(hc).toMatchObject({
        NetworkMode: 'none',
        Privileged: false,
        ReadonlyRootfs: true,
        Memory: MEMORY_MB * 1024 * 1024,
        MemorySwap: MEMORY_MB * 1024 * 1024,
        PidsLimit: PIDS,
        CapDrop: ['ALL'],
        Init: true,
        IpcMode: 'private',
        CgroupnsMode: 'private',
        ShmSize: 8 * 1024 * 1024,
        LogConfig: { Type: 'none' },
        // Before the worker, Redis and the database in a host-wide shortage, and the program
        // cannot lower it: its /proc is read-only.
        OomScoreAdj: SANDBOX_OOM_SCORE_ADJ,
        ReadonlyPaths: ['/proc'],
      });
      expect(hc.SecurityOpt).toContain('no-new-privileges');
      // Our seccomp profile, whatever the engine's default is.
      const seccomp = hc.SecurityOpt.find((o) => o.startsWith('seccomp='));
      expect(JSON.parse(seccomp?.slice('seccomp='.length) ?? 'null')).toEqual(
        JSON.parse(readFileSync(join(SECCOMP, 'coderoom.json'), 'utf8')),
      );
      for (const dir of ['/box', '/tmp']) {
        expect(hc.Tmpfs[dir]).toMatch(/(^|,)size=\d+m(,|$)/);
        expect(hc.Tmpfs[dir]).toMatch(/(^|,)nr_inodes=\d+(,|$)/);
        expect(hc.Tmpfs[dir]).toMatch(/(^|,)nosuid(,|$)/);
      }
      const ulimits = Object.fromEntries(hc.Ulimits.map((u) => [u.Name, u]));
      expect(Object.keys(ulimits).sort()).toEqual(['core', 'cpu', 'fsize', 'nofile']); // never nproc
      // RLIMIT_CPU, per process: a backstop a second past the larger CPU budget, SIGKILL 1 s later.
      const cpuSeconds = Math.ceil(Math.max(CPU_MS, COMPILE_CPU_MS) / 1000) + 1;
      expect(ulimits.cpu).toMatchObject({ Soft: cpuSeconds, Hard: cpuSeconds + 1 });
      const env = (info.Config.Env ?? []).join('\n');
      for (const s of secrets) expect(env).not.toContain(s);

      expect(await alice.emitWithAck('run:cancel', { runId: started.runId })).toEqual({ ok: true });
      const run = await started.done(10_000);
      expect(run.finished.verdict).toBe('CANCELLED');
      await until('the container to be removed', () => containersOf(run.runId) === '', 10_000);
      if (hc.CgroupParent) {
        // The per-sandbox parent cgroup (for the peak memory) goes with the container.
        await until(
          'its cgroup to be removed',
          () => !existsSync(`/sys/fs/cgroup/memory${hc.CgroupParent}`),
          10_000,
        );
      }
    }, 60_000);

    it("gives every sandbox its own uid: a program that takes its uid's whole inotify budget leaves the next sandbox's intact", async () => {
      // inotify instances are counted per uid, host-wide (fs.inotify.max_user_instances, 128 by
      // default, below the 256 open files a sandbox may have). With one uid for all sandboxes,
      // the second program would get none.
      const grab = [
        'import ctypes, os, time',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'n = 0',
        'while libc.inotify_init() >= 0: n += 1',
        'print(n, os.strerror(ctypes.get_errno()), flush=True)',
        'time.sleep(30)',
      ].join('\n');
      const hog = await startRun(mallory, { language: 'python', source: grab });
      await until('the first program to take its budget', () => hog.outputs.length > 0, 20_000);
      const taken = text(hog.outputs, 'stdout');
      expect(taken).toMatch(/^\d+ Too many open files\n$/);
      // The per-uid limit is what stopped it (not the open files limit).
      const perUid = Number(readFileSync('/proc/sys/fs/inotify/max_user_instances', 'utf8'));
      if (perUid < 200) expect(Number(taken.split(' ')[0])).toBe(perUid);
      else console.warn(`fs.inotify.max_user_instances is ${perUid}: this test shows nothing here`);
      // While the first still holds all of its instances, another sandbox gets just as many.
      const next = await startRun(alice, { language: 'python', source: grab });
      const [hogEnd, nextEnd] = await Promise.all([hog.done(20_000), next.done(20_000)]);
      expect(text(nextEnd.outputs, 'stdout')).toBe(taken);
      // Both sleep until the wall clock: the first was still running when the second counted.
      expect([hogEnd.finished.verdict, nextEnd.finished.verdict]).toEqual(['TLE', 'TLE']);
      expect(nextEnd.arrivals[0]).toBeLessThan(hogEnd.finishedAt);
    }, 60_000);

    it('never touches a file of a sandbox: no archive, copy, bind mount or volume in the worker (but a slot socket)', () => {
      const sources: string[] = [];
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const p = join(dir, name);
          if (statSync(p).isDirectory()) walk(p);
          else if (p.endsWith('.ts') && !p.endsWith('.spec.ts')) sources.push(p);
        }
      };
      walk(join(REPO, 'worker/src'));
      expect(sources.length).toBeGreaterThan(5);
      // The one bind mount: a slot's own socket, read-only (SANDBOX_SLOT_SOCKETS; checked on the
      // slot containers themselves in "slot settings" below). Any other is a failure here.
      const socketBind = 'Binds: [`${socket}:${SLOT_SOCKET_IN_CONTAINER}:ro`]';
      const slotRepository = join(REPO, 'worker/src/repositories/slot.repository.ts');
      expect(readFileSync(slotRepository, 'utf8').split(socketBind)).toHaveLength(2);
      for (const file of sources) {
        let code = readFileSync(file, 'utf8');
        if (file === slotRepository) code = code.replace(socketBind, '');
        expect({
          file,
          hit: /\b(getArchive|putArchive|infoArchive|Binds|Mounts|VolumesFrom|Volumes)\b|\.export\(/.exec(
            code,
          )?.[0],
        }).toEqual({ file, hit: undefined });
      }
    });
  });
}

function seccompTests(): void {
  /**
   * sandbox/seccomp/coderoom.json, through the real path: sandbox/hostile/seccomp.c tries every
   * call below once, and each has its own test. EPERM is the profile's answer: without it the
   * kernel allows io_uring and AF_VSOCK (Docker 20.10's default profile) or answers EAFNOSUPPORT.
   */
  describe('the seccomp profile', () => {
    const DENIED = [
      'io_uring_setup',
      'io_uring_enter',
      'io_uring_register',
      'socket(AF_VSOCK)',
      'socket(AF_ALG)',
      'socket(AF_PACKET)',
      'socket(AF_KEY)',
      'socket(AF_TIPC)',
      'socket(AF_RDS)',
      'socket(AF_CAN)',
      'socket(AF_BLUETOOTH)',
      'socket(AF_XDP)',
      'socket(AF_NETLINK, NETLINK_NETFILTER)',
      'socketpair(AF_TIPC)',
    ];
    const ALLOWED = [
      'socket(AF_UNIX)',
      'socket(AF_INET)',
      'socket(AF_INET6)',
      'socket(AF_NETLINK, NETLINK_ROUTE)',
      'socketpair(AF_UNIX)',
    ];
    let lines: string[] = [];

    beforeAll(async () => {
      const source = readFileSync(join(HOSTILE, 'seccomp.c'), 'utf8');
      const run = await runToEnd(mallory, { language: 'c', source }, 30_000);
      expect(run.finished.verdict).toBe('OK');
      lines = text(run.outputs, 'stdout').split('\n');
    }, 40_000);

    it("is Docker's current default profile resolved for the sandbox, minus our removals (generate.mjs --check)", () => {
      const r = spawnSync('node', [join(SECCOMP, 'generate.mjs'), '--check'], { encoding: 'utf8' });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      const profile = JSON.parse(readFileSync(join(SECCOMP, 'coderoom.json'), 'utf8')) as {
        syscalls: { names: string[] }[];
      };
      const names = profile.syscalls.flatMap((r) => r.names);
      for (const n of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'socketcall']) {
        expect(names).not.toContain(n);
      }
    });

    it.each(DENIED)('refuses %s with EPERM', (call) => {
      expect(lines).toContain(`refused ${call}: Operation not permitted`);
    });

    it('refuses 32-bit system calls (int 0x80 socketcall, which a filter cannot inspect): SIGSYS', () => {
      expect(lines).toContain('refused socketcall32(AF_VSOCK): killed by signal 31');
    });

    it.each(ALLOWED)('still allows %s', (call) => {
      expect(lines).toContain(`ALLOWED ${call}`);
    });
  });
}

function memoryPressureTests(): void {
  describe('memory pressure on the host', () => {
    const score = (pid: number | string): number =>
      Number(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim());

    it('gives every service a lower oom_score_adj than a sandbox can set itself', () => {
      // What the worker, Redis, the database and Docker run with: all below the sandboxes' floor,
      // which sandbox/hostile/oom-score.py checks from inside (it cannot go below 500).
      const services = ['redis-server', 'dockerd', 'containerd']
        .flatMap((name) => {
          const r = spawnSync('pgrep', ['-x', name], { encoding: 'utf8' });
          return r.stdout.split('\n').filter(Boolean);
        })
        .map((pid) => ({ pid, score: score(pid) }));
      services.push({ pid: String(stack.workerPid()), score: score(stack.workerPid()) });
      expect(services.length).toBeGreaterThanOrEqual(3);
      for (const s of services) expect(s.score).toBeLessThan(SANDBOX_OOM_SCORE_ADJ);
    });
  });
}

/**
 * The slot tier (sandbox/slot/README.md): the long-lived container's settings, and what a program
 * inside its bubblewrap sandbox gets. Cross-run isolation and recycling: slot.e2e.spec.ts.
 */
function slotSettingsTests(): void {
  describe('slot settings', () => {
    it('runs every program in a hardened slot container, in a sandbox of its own inside', async () => {
      const probe = [
        'import os, time',
        "status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())",
        "for k in ('Uid', 'CapEff', 'CapBnd', 'NoNewPrivs', 'Seccomp', 'Seccomp_filters'):",
        "    print(k, status.get(k, '').split()[0] if status.get(k) else '-')",
        "print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))",
        "print('proc', os.statvfs('/proc').f_flag & os.ST_RDONLY)",
        "print('box', sorted(os.listdir('/box')), oct(os.stat('/box').st_mode & 0o7777))",
        "print('root', sorted(os.listdir('/')))",
        "print('env', sorted(os.environ))",
        'print("up", flush=True)',
        'time.sleep(30)',
      ].join('\n');
      const started = await startRun(alice, { language: 'python', source: probe });
      expect(started.ack).toMatchObject({ ok: true });
      await until('the program to start', () => text(started.outputs).includes('up\n'), 20_000);
      const out = text(started.outputs, 'stdout');
      const line = (k: string) => out.split('\n').find((l) => l.startsWith(`${k} `)) ?? '';
      expect(line('CapEff')).toBe('CapEff 0000000000000000');
      expect(line('CapBnd')).toBe('CapBnd 0000000000000000');
      expect(line('NoNewPrivs')).toBe('NoNewPrivs 1');
      expect(line('Seccomp')).toBe('Seccomp 2');
      // The slot's profile and the inner filter bwrap installed.
      expect(Number(line('Seccomp_filters').split(' ')[1])).toBeGreaterThanOrEqual(2);
      // Its own PID namespace: bwrap's init (1) and the program, nothing of other runs.
      expect(line('pids')).toBe('pids [1, 2]');
      expect(line('proc')).toBe('proc 1'); // /proc read-only: oom_score_adj stays
      expect(line('box')).toBe("box ['main.py'] 0o700");
      expect(line('root')).not.toMatch(/'slot'|'sys'|'run'|'home'|'root'/);
      const [uid] = line('Uid').split(' ').slice(1).map(Number);
      expect(uid).toBeGreaterThanOrEqual(2 ** 20);

      const slots = containersWith('coderoom.slot=slot').split('\n').filter(Boolean);
      expect(slots.length).toBeGreaterThan(0);
      const infos = JSON.parse(execFileSync('docker', ['inspect', ...slots]).toString()) as {
        Config: { User: string; Env: string[] | null; Labels: Record<string, string> };
        State: { Running: boolean };
        HostConfig: Record<string, unknown> & {
          Tmpfs: Record<string, string>;
          Ulimits: { Name: string; Soft: number; Hard: number }[];
          SecurityOpt: string[];
        };
        Mounts: unknown[];
      }[];
      const slotProfile = JSON.parse(
        readFileSync(join(SECCOMP, 'coderoom-slot.json'), 'utf8'),
      ) as unknown;
      for (const info of infos.filter((i) => i.Config.Labels['coderoom.worker'] === WORKER_ID)) {
        const hc = info.HostConfig;
        const [u, g] = info.Config.User.split(':').map(Number);
        expect(g).toBe(u);
        expect(u).toBeGreaterThanOrEqual(2 ** 20);
        // One mount only: its own socket to the worker, read-only, whose file on the host went
        // with the supervisor's connection (nothing else can connect or be reached through it).
        expect(info.Mounts).toEqual([
          expect.objectContaining({
            Type: 'bind',
            Destination: '/slot/worker.sock',
            RW: false,
            Source: expect.stringMatching(/\/coderoom-slots\/test-hostile\/[0-9a-f]{16}\.sock$/),
          }),
        ]);
        const [{ Source: socket }] = info.Mounts as { Source: string }[];
        expect(existsSync(socket)).toBe(false);
        expect(hc.Binds).toEqual([`${socket}:/slot/worker.sock:ro`]);
        expect(hc).toMatchObject({
          NetworkMode: 'none',
          Privileged: false,
          ReadonlyRootfs: true,
          CapDrop: ['ALL'],
          Init: true,
          IpcMode: 'private',
          CgroupnsMode: 'private',
          LogConfig: { Type: 'none' },
          OomScoreAdj: SANDBOX_OOM_SCORE_ADJ,
          Runtime: 'runc',
        });
        // The run's limits (the pids limit has room for docker-init, the supervisor and bwrap).
        expect([hc.Memory, hc.MemorySwap]).toContain(MEMORY_MB * 1024 * 1024);
        expect(hc.PidsLimit).toBe(PIDS + 3);
        expect(hc.SecurityOpt).toContain('no-new-privileges');
        // systempaths=unconfined: no masked or read-only /proc paths (each run's /proc has them).
        expect(hc.MaskedPaths).toEqual([]);
        expect(hc.ReadonlyPaths).toEqual([]);
        const seccomp = hc.SecurityOpt.find((o) => o.startsWith('seccomp='));
        expect(JSON.parse(seccomp?.slice('seccomp='.length) ?? 'null')).toEqual(slotProfile);
        for (const dir of ['/slot/box', '/slot/tmp']) {
          expect(hc.Tmpfs[dir]).toMatch(/(^|,)size=\d+m(,|$)/);
          expect(hc.Tmpfs[dir]).toMatch(/(^|,)nr_inodes=\d+(,|$)/);
          expect(hc.Tmpfs[dir]).toMatch(/(^|,)nosuid(,|$)/);
        }
        const names = hc.Ulimits.map((u) => u.Name).sort();
        expect(names).toEqual(['core', 'fsize', 'nofile']); // RLIMIT_CPU is set per run inside
        const env = (info.Config.Env ?? []).join('\n');
        for (const s of secrets) expect(env).not.toContain(s);
      }
      expect(await alice.emitWithAck('run:cancel', { runId: started.runId })).toEqual({ ok: true });
      const run = await started.done(10_000);
      expect(run.finished.verdict).toBe('CANCELLED');
    }, 60_000);

    it('refuses namespaces, mount, ptrace, io_uring, bpf, keyrings, userfaultfd and perf events to the program', async () => {
      // x86_64 system call numbers; each call with arguments that would succeed without a filter
      // (or fail with another errno than EPERM).
      const source = [
        'import ctypes, errno, os',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'libc.syscall.restype = ctypes.c_long',
        'buf = ctypes.create_string_buffer(256)',
        'calls = {',
        "  'unshare(CLONE_NEWUSER)': (272, 0x10000000),",
        "  'unshare(CLONE_NEWNS)': (272, 0x20000),",
        "  'unshare(CLONE_NEWNET)': (272, 0x40000000),",
        "  'clone(CLONE_NEWUSER)': (56, 0x10000000 | 17, 0, 0, 0, 0),",
        "  'setns': (308, 0, 0),",
        "  'mount': (165, b'none', b'/box', b'tmpfs', 0, 0),",
        "  'umount2': (166, b'/box', 2),",
        "  'pivot_root': (155, b'/box', b'/box'),",
        "  'chroot': (161, b'/box'),",
        "  'ptrace(PTRACE_TRACEME)': (101, 0, 0, 0, 0),",
        "  'keyctl': (250, 0, -4, 0),",
        "  'add_key': (248, b'user', b'k', b'v', 1, -4),",
        "  'request_key': (249, b'user', b'k', 0, 0),",
        "  'bpf': (321, 0, buf, 72),",
        "  'userfaultfd': (323, 0),",
        "  'perf_event_open': (298, buf, 0, -1, -1, 0),",
        "  'io_uring_setup': (425, 1, buf),",
        "  'fsopen': (430, b'tmpfs', 0),",
        "  'open_tree': (428, -100, b'/box', 0),",
        '}',
        'for name, (nr, *args) in calls.items():',
        '    r = libc.syscall(nr, *args)',
        "    print(name, 'ALLOWED' if r >= 0 else errno.errorcode[ctypes.get_errno()])",
        'r = libc.syscall(435, buf, 88)',
        "print('clone3', 'ALLOWED' if r >= 0 else errno.errorcode[ctypes.get_errno()])",
        'r = libc.syscall(272, 0x400)',
        "print('unshare(CLONE_FILES)', 'ALLOWED' if r >= 0 else errno.errorcode[ctypes.get_errno()])",
        'pid = os.fork()',
        'if pid == 0: os._exit(7)',
        "print('fork', os.waitpid(pid, 0)[1] >> 8)",
      ].join('\n');
      const run = await runToEnd(mallory, { language: 'python', source });
      expect(run.finished.verdict).toBe('OK');
      const lines = text(run.outputs, 'stdout').split('\n').filter(Boolean);
      const named = Object.fromEntries(lines.map((l) => [l.slice(0, l.lastIndexOf(' ')), l]));
      for (const call of [
        'unshare(CLONE_NEWUSER)',
        'unshare(CLONE_NEWNS)',
        'unshare(CLONE_NEWNET)',
        'clone(CLONE_NEWUSER)',
        'setns',
        'mount',
        'umount2',
        'pivot_root',
        'chroot',
        'ptrace(PTRACE_TRACEME)',
        'keyctl',
        'add_key',
        'request_key',
        'bpf',
        'userfaultfd',
        'perf_event_open',
        'io_uring_setup',
        'fsopen',
        'open_tree',
      ]) {
        expect(named[call]).toBe(`${call} EPERM`);
      }
      // clone3's flags are behind a pointer: ENOSYS, and glibc falls back to clone.
      expect(named.clone3).toBe('clone3 ENOSYS');
      // unshare without namespace flags: refused as in a container of its own (Docker's profile
      // allows unshare only with CAP_SYS_ADMIN; the slot profile only with CLONE_NEWUSER).
      expect(named['unshare(CLONE_FILES)']).toBe('unshare(CLONE_FILES) EPERM');
      // What programs use stays: fork (threads: every test program).
      expect(named.fork).toBe('fork 7');
    }, 60_000);
  });
}

/**
 * The runner itself, straight through `docker run` (the runner from this checkout mounted over
 * the image's, so this tests the source even before the images are rebuilt).
 */
describe('the runner', () => {
  const runner = (
    input: Buffer | string,
    image = `coderoom-sandbox-base:${process.env.SANDBOX_IMAGE_TAG || 'latest'}`,
  ) =>
    spawnSync(
      'docker',
      [
        'run',
        '--rm',
        '-i',
        '--network',
        'none',
        '--memory',
        '256m',
        '--pids-limit',
        '64',
        '--read-only',
        '--tmpfs',
        '/box:rw,exec,nosuid,nodev,size=16m,uid=10001,gid=10001,mode=0700',
        '--tmpfs',
        '/tmp:rw,exec,nosuid,nodev,size=16m,mode=1777',
        '--cap-drop',
        'ALL',
        '--security-opt',
        'no-new-privileges',
        '--user',
        '10001:10001',
        '--log-driver',
        'none',
        '--init',
        '-v',
        `${RUNNER}:/usr/local/bin/coderoom-runner:ro`,
        // The script, not the image's compiled copy (its ENTRYPOINT).
        '--entrypoint',
        '/usr/local/bin/coderoom-runner',
        image,
      ],
      { input, timeout: 30_000 },
    );
  const file = (path: string, content: string) =>
    `${path}\n${Buffer.byteLength(content)}\n${content}`;
  const HEADER = '\x1eCODEROOM-COMPILE';

  it.each(['/etc/passwd', '../x', 'a/../../x', '..', 'a/..', './../x', ''])(
    'refuses the path %j (exit 91, nothing run)',
    (path) => {
      const r = runner(`CODEROOM1\n\necho RAN\n1\n${file(path, 'x')}`);
      expect(r.status).toBe(91);
      expect(r.stdout.toString()).toBe('');
    },
    30_000,
  );

  it('refuses to write through an existing name: the same path twice, a file as a directory', () => {
    for (const files of [
      [file('a', 'one'), file('a', 'two')],
      [file('a', 'one'), file('a/b', 'two')],
    ]) {
      const r = runner(`CODEROOM1\n\necho RAN\n2\n${files.join('')}`);
      expect(r.status).toBe(92);
      expect(r.stdout.toString()).toBe('');
    }
  }, 30_000);

  it('compiles file names that look like options or hold spaces as files (no word splitting)', () => {
    // The gateway's path rule refuses both names; the compile command must not depend on it:
    // with `$(find ...)` expansion, `-omain.c` became gcc's -o option and `a b.c` two words.
    for (const l of readdirSync(join(REPO, 'sandbox/languages'))) {
      const def = JSON.parse(
        readFileSync(join(REPO, 'sandbox/languages', l, 'language.json'), 'utf8'),
      ) as { compile: string | null; run: string };
      expect({ l, compile: /\$\(|`/.exec(def.compile ?? '')?.[0] }).toEqual({
        l,
        compile: undefined,
      });
    }
    const c = JSON.parse(readFileSync(join(REPO, 'sandbox/languages/c/language.json'), 'utf8')) as {
      compile: string;
      run: string;
    };
    const files = JSON.parse(readFileSync(join(HOSTILE, 'option-file-names.json'), 'utf8')) as {
      path: string;
      content: string;
    }[];
    const input = `CODEROOM1\n${c.compile}\n${c.run}\n${files.length}\n${files.map((f) => file(f.path, f.content)).join('')}`;
    const r = runner(input);
    expect({ status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() }).toEqual({
      status: 0,
      stdout: `${HEADER} 0 0\nOK 42\n`,
      stderr: '',
    });
  }, 30_000);

  it('writes nested files inside /box only', () => {
    const r = runner(
      `CODEROOM1\n\nfind /box -type f | sort; cat d/e/f\n2\n${file('d/e/f', 'nested\n')}${file('g', 'x')}`,
    );
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toBe(`${HEADER} 0 0\n/box/d/e/f\n/box/g\nnested\n`);
  }, 30_000);

  it('reads back what the compiler wrote, not a file planted under the log name', () => {
    // The compile step (think of a compiler running user code at compile time) replaces every
    // possible log name in /tmp with a symlink to /etc/passwd; the runner still reports exactly
    // what the compiler printed.
    const compile =
      'for i in $(seq 1 200); do ln -sf /etc/passwd /tmp/coderoom-compile.$i.log; done; echo compiled';
    const r = runner(`CODEROOM1\n${compile}\ncat main.c\n1\n${file('main.c', 'source')}`);
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toBe(`${HEADER} 0 9\ncompiled\nsource`);
  }, 30_000);
});
