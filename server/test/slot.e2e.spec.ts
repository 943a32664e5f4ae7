// The slot tier (sandbox/slot/README.md) through the real path: one worker running one run at a
// time, so consecutive runs meet in the same slot container. A run cannot leave anything for the
// next one (files, processes, SysV and POSIX IPC, abstract unix sockets, inotify instances,
// keyrings), and a slot is replaced after SLOT_RUNS runs and after an anomaly (an OOM kill, a
// supervisor that does not answer a kill). The hostile corpus runs on this tier too
// (hostile.e2e.spec.ts).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { localSlotSockets } from '../../deploy/local/service-args.mjs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
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

const WORKER_ID = 'test-slot';
const SLOT_RUNS = 6;
const WALL_MS = 3000;

let stack: Stack;
let alice: ClientSocket;
/** Runs served per slot (its hostname is its container's short id), over the whole file. */
const served = new Map<string, number>();

beforeAll(async () => {
  stack = await startStack({
    name: 'slot',
    redisDb: 43,
    gatewayEnv: { RUN_QUOTAS: JSON.stringify({ student: { perMinute: 1000 } }) },
    workerEnv: {
      WORKER_ID,
      SANDBOX_TIER: 'slot',
      // One slot per kind at a time (no spare): consecutive runs meet in the same slot.
      WORKER_CONCURRENCY: '1',
      WARM_POOL_SIZE: '1',
      SLOT_RUNS: String(SLOT_RUNS),
      RUN_WALL_MS: String(WALL_MS),
      RUN_MEMORY_MB: '128',
    },
  });
  alice = await stack.connect(await stack.token('alice'));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

/** Runs a Python program whose first line of output is its slot's hostname. */
async function inSlot(source: string): Promise<{ slot: string; out: string; run: RunRecord }> {
  const program = `import socket\nprint(socket.gethostname(), flush=True)\n${source}`;
  const run = await runToEnd(alice, { language: 'python', source: program }, 30_000);
  const [slot, ...rest] = text(run.outputs, 'stdout').split('\n');
  expect(slot).toMatch(/^[0-9a-f]{12}$/);
  served.set(slot, (served.get(slot) ?? 0) + 1);
  return { slot, out: rest.join('\n'), run };
}

const hostProcesses = (): string => execFileSync('ps', ['-eo', 'args']).toString();

describe('the slot tier', () => {
  it('leaves nothing of a run for the next run in the same slot', async () => {
    const leave = `
import ctypes, errno, os, socket, time
libc = ctypes.CDLL(None, use_errno=True)
err = lambda: errno.errorcode[ctypes.get_errno()]
for d in ('/box', '/tmp', '/dev/shm'):
    open(d + '/left-behind', 'w').write('x')
print('shm', libc.shmget(0x5107, 4096, 0o1600) >= 0)
print('sem', libc.semget(0x5107, 1, 0o1600) >= 0)
print('msg', libc.msgget(0x5107, 0o1600) >= 0)
print('mq', libc.mq_open(b'/left-behind', os.O_CREAT | os.O_RDWR, 0o600, None) >= 0)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(b'\\0left-behind')
s.listen()
n = 0
while libc.inotify_init() >= 0:
    n += 1
print('inotify', n)
r = libc.syscall(248, b'user', b'left-behind', b'v', 1, -4)
print('add_key', 'ALLOWED' if r >= 0 else err())
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp('sleep', ['sleep', '29.7531'])  # holds the socket and the inotify instances
    os._exit(0)
time.sleep(0.2)
print('left')
`;
    const look = `
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
err = lambda: errno.errorcode[ctypes.get_errno()]
for d in ('/box', '/tmp', '/dev/shm'):
    print(d, sorted(os.listdir(d)))
for f in ('shm', 'sem', 'msg'):
    print(f, len(open('/proc/sysvipc/' + f).read().splitlines()) - 1)
print('shmget', err() if libc.shmget(0x5107, 0, 0) < 0 else 'FOUND')
print('mq', err() if libc.mq_open(b'/left-behind', os.O_RDWR) < 0 else 'FOUND')
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(b'\\0left-behind')
    print('abstract FOUND')
except OSError as e:
    print('abstract', errno.errorcode[e.errno])
print('unix sockets', len(open('/proc/net/unix').read().splitlines()) - 1)
print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))
n = 0
while libc.inotify_init() >= 0:
    n += 1
print('inotify', n)
r = libc.syscall(250, 0, -4, 0)
print('keyctl', 'ALLOWED' if r >= 0 else err())
`;
    const a = await inSlot(leave);
    expect(a.run.finished.verdict).toBe('OK');
    expect(a.out).toContain('shm True\nsem True\nmsg True\nmq True\n');
    expect(a.out).toContain('add_key EPERM\n'); // no keyring at all (the inner filter)
    expect(a.out).toContain('left\n');
    const taken = Number(/^inotify (\d+)$/m.exec(a.out)?.[1]);
    expect(taken).toBeGreaterThan(0);
    // Its background process went with it (killed with its PID namespace, swept by the supervisor).
    await until(
      'the background process to be gone',
      () => !hostProcesses().includes('sleep 29.7531'),
      5000,
    );

    const b = await inSlot(look);
    expect(b.slot).toBe(a.slot); // the same slot container
    expect(b.run.finished.verdict).toBe('OK');
    expect(b.out).toContain("/box ['main.py']\n/tmp []\n/dev/shm []\n");
    expect(b.out).toContain('shm 0\nsem 0\nmsg 0\nshmget ENOENT\nmq ENOENT\n');
    expect(b.out).toContain('abstract ECONNREFUSED\n');
    expect(b.out).toContain('unix sockets 1\n'); // its own
    expect(b.out).toContain('pids [1, 2]\n');
    // Every inotify instance of the slot's uid is free again (a per-uid budget).
    expect(b.out).toContain(`inotify ${taken}\n`);
    expect(b.out).toContain('keyctl EPERM\n');
  }, 60_000);

  it('keeps a slot after a run it stopped cleanly (time limit), and serves the next run in it', async () => {
    const a = await inSlot('import time\nprint("sleeping", flush=True)\ntime.sleep(60)');
    expect(a.run.finished.verdict).toBe('TLE');
    const b = await inSlot('print("next")');
    expect(b.slot).toBe(a.slot);
    expect(b.out).toBe('next\n');
    expect(b.run.finished.verdict).toBe('OK');
  }, 60_000);

  it('replaces a slot after an OOM kill', async () => {
    const a = await inSlot('x = bytearray(1 << 30)');
    expect(a.run.finished.verdict).toBe('MLE');
    const b = await inSlot('print("next")');
    expect(b.slot).not.toBe(a.slot);
    expect(b.run.finished.verdict).toBe('OK');
    await until(
      'the old slot to be removed',
      () => !containersWith(`coderoom.worker=${WORKER_ID}`).includes(a.slot),
      10_000,
    );
  }, 60_000);

  it('replaces a slot whose supervisor does not answer a kill', async () => {
    const started = await startRun(alice, {
      language: 'python',
      source: 'import socket, time\nprint(socket.gethostname(), flush=True)\ntime.sleep(60)',
    });
    await until('the program to start', () => started.outputs.length > 0, 20_000);
    const slot = text(started.outputs, 'stdout').trim();
    // The supervisor is docker-init's child in the slot container: stop it.
    const init = execFileSync('docker', ['inspect', '-f', '{{.State.Pid}}', slot])
      .toString()
      .trim();
    const supervisor = execFileSync('pgrep', ['-P', init]).toString().trim().split('\n')[0];
    process.kill(Number(supervisor), 'SIGSTOP');
    const run = await started.done(WALL_MS + 10_000);
    expect(run.finished.verdict).toBe('TLE');
    const b = await inSlot('print("next")');
    expect(b.slot).not.toBe(slot);
    expect(b.run.finished.verdict).toBe('OK');
    await until(
      'the stopped slot to be removed',
      () => !containersWith(`coderoom.worker=${WORKER_ID}`).includes(slot),
      10_000,
    );
  }, 60_000);

  it("talks to a slot over the slot's own socket, which its runs cannot reach", async () => {
    const a = await inSlot(
      "import os\nprint(os.path.exists('/slot'), os.path.exists('/slot/worker.sock'))",
    );
    expect(a.out).toBe('False False\n');
    // The socket is bound into its slot alone, read-only; its file on the host went with the
    // connection, so nothing else can connect to it.
    const mounts = JSON.parse(
      execFileSync('docker', ['inspect', '-f', '{{json .Mounts}}', a.slot]).toString(),
    ) as { Source: string; Destination: string; RW: boolean }[];
    const socket = mounts.find((m) => m.Destination === '/slot/worker.sock');
    expect(socket).toMatchObject({ RW: false });
    expect(socket!.Source).toMatch(/\/coderoom-slots\/test-slot\/[0-9a-f]{16}\.sock$/);
    expect(existsSync(socket!.Source)).toBe(false);
  }, 60_000);

  it(`replaces a slot after ${SLOT_RUNS} runs`, async () => {
    for (let i = 0; i < SLOT_RUNS + 2; i++) {
      const r = await inSlot(`print(${i})`);
      expect(r.out).toBe(`${i}\n`);
    }
    // Over this whole file: no slot served more than SLOT_RUNS runs, and one served exactly that.
    const counts = [...served.values()];
    expect(Math.max(...counts)).toBe(SLOT_RUNS);
  }, 120_000);
});

// Without SANDBOX_SLOT_SOCKETS (a deployment's default): the frames go over the attach stream.
describe('the slot tier over the attach stream', () => {
  let plain: Stack;
  let bob: ClientSocket;
  beforeAll(async () => {
    plain = await startStack({
      name: 'slot-attach',
      redisDb: 46,
      workerEnv: {
        WORKER_ID: 'test-slot-attach',
        SANDBOX_TIER: 'slot',
        SANDBOX_SLOT_SOCKETS: '',
        WORKER_CONCURRENCY: '1',
        WARM_POOL_SIZE: '1',
        RUN_WALL_MS: String(WALL_MS),
      },
    });
    bob = await plain.connect(await plain.token('bob'));
  }, 120_000);
  afterAll(async () => {
    await plain?.stop();
  }, 30_000);

  it('runs programs, stops one at its time limit and serves the next in the same slot', async () => {
    const where = 'import socket\nprint(socket.gethostname(), flush=True)\n';
    const a = await runToEnd(bob, {
      language: 'python',
      source: `${where}import time\ntime.sleep(60)`,
    });
    expect(a.finished.verdict).toBe('TLE');
    const b = await runToEnd(bob, {
      language: 'python',
      source: `${where}print(input())`,
      stdin: 'hi\n',
    });
    expect(b.finished.verdict).toBe('OK');
    const [slotA] = text(a.outputs, 'stdout').split('\n');
    const [slotB, echoed] = text(b.outputs, 'stdout').split('\n');
    expect(slotB).toBe(slotA);
    expect(echoed).toBe('hi');
    const mounts = execFileSync('docker', ['inspect', '-f', '{{json .Mounts}}', slotB]).toString();
    expect(mounts).not.toContain('/slot/worker.sock');
  }, 60_000);
});

// A slot taken for a run whose pre-run check then said no (another worker has it, or it was
// cancelled) goes back unused (SandboxRun.reserveSlot, SlotSandbox.giveBack): here through the
// worker's own SlotPoolService on the real Docker engine and supervisor, as slot-lifecycle.mjs
// drives it. The next run must get the same slot and its sandbox, still ready and untouched.
describe('a slot given back unused', () => {
  it('serves the next run with the same ready sandbox', async () => {
    const dist = (p: string) => new URL(`../../worker/dist/src/${p}`, import.meta.url).href;
    const { DockerRepository } = (await import(dist('repositories/docker.repository.js'))) as {
      DockerRepository: new (config: object) => { remove(id: string): Promise<void> };
    };
    const { SlotRepository } = (await import(dist('repositories/slot.repository.js'))) as {
      SlotRepository: new (config: object, docker: object) => object;
    };
    const { SlotPoolService } = (await import(dist('services/slot-pool.service.js'))) as {
      SlotPoolService: new (...deps: object[]) => {
        take(spec: object): Promise<{
          id: string;
          io: {
            write(d: Buffer): void;
            closeStdin(): void;
            onStdout(cb: (d: Buffer) => void): void;
          };
          exited: Promise<number>;
          giveBack(): void;
          release(clean: boolean): void;
        }>;
        beforeApplicationShutdown(): Promise<void>;
      };
    };
    const { encodeRunnerInput } = (await import(dist('services/runner-protocol.js'))) as {
      encodeRunnerInput: (compile: null, run: string, files: object[]) => Buffer;
    };
    const repoDir = new URL('../../', import.meta.url).pathname;
    const workerId = 'test-slot-give-back';
    const config = {
      dockerSocket: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock',
      redisUrl: workerId, // the scope of its containers' labels (no Redis is used)
      runtime: 'runc',
      tier: 'slot',
      tierByLanguage: {},
      seccompProfile: `${repoDir}sandbox/seccomp/coderoom.json`,
      slotSeccompProfile: `${repoDir}sandbox/seccomp/coderoom-slot.json`,
      slotSupervisor: `${repoDir}sandbox/slot/supervisor.py`,
      slotAppArmor: '',
      slotSocketDir: localSlotSockets(),
      slotRuns: 10,
      workerId,
      warmPoolSize: 1,
      warmPoolMax: 2,
      warmPoolLanguages: [],
      concurrency: 1,
      sandboxStartMs: 30_000,
    };
    const docker = new DockerRepository(config);
    const janitor = {
      ready: Promise.resolve(),
      dispose: (id: string) => void docker.remove(id).catch(() => undefined),
    };
    const slots = new SlotPoolService(
      config,
      new SlotRepository(config, docker),
      docker,
      janitor,
      { get: () => undefined },
      { error: () => undefined },
    );
    const spec = {
      image: 'coderoom-sandbox-base:latest',
      memoryMb: 128,
      cpus: 1,
      pids: 64,
      tmpfsMb: 16,
      fileSizeMb: 16,
      openFiles: 256,
      cpuSeconds: 5,
    };
    // Slots an earlier, interrupted run of this test left (the worker's janitor does this at start).
    const left = containersWith(`coderoom.worker=${workerId}`).split('\n').filter(Boolean);
    if (left.length > 0) execFileSync('docker', ['rm', '-f', ...left]);
    try {
      const first = await slots.take(spec);
      first.giveBack();
      const second = await slots.take(spec);
      expect(second.id).toBe(first.id);
      let out = '';
      second.io.onStdout((d) => (out += d.toString()));
      second.io.write(
        encodeRunnerInput(null, '@python main.py', [
          { path: 'main.py', content: 'import os\nprint(sorted(os.listdir(".")))' },
        ]),
      );
      second.io.closeStdin();
      // A sandbox number the supervisor does not hold would have it drop every frame: no end.
      const exit = await Promise.race([
        second.exited,
        new Promise<string>((r) => setTimeout(() => r('no end in 10 s'), 10_000).unref()),
      ]);
      expect(exit).toBe(0);
      // Only this run's file: the sandbox given back had never been written to.
      expect(out).toContain("['main.py']\n");
      second.release(true);
    } finally {
      await slots.beforeApplicationShutdown();
    }
    await until(
      'its slot to be removed',
      () => containersWith(`coderoom.worker=${workerId}`).trim() === '',
      10_000,
    );
  }, 60_000);
});
