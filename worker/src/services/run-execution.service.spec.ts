import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { LanguageDefinition, RunJob, RunResult } from '@coderoom/contracts';
import {
  DEFAULT_SANDBOX_START_MS as SANDBOX_START_MS,
  type WorkerConfig,
} from '../config/config.js';
import type { DockerRepository, SandboxIo } from '../repositories/docker.repository.js';
import type { LanguageRepository } from '../repositories/language.repository.js';
import type { MetricsRepository } from '../repositories/metrics.repository.js';
import type { RunFeedRepository, RunFeedWriter } from '../repositories/run-feed.repository.js';
import type { RunRepository } from '../repositories/run.repository.js';
import { RunExecutionService } from './run-execution.service.js';
import { StartupGateService } from './startup-gate.service.js';
import type { LanguageImagesService } from './language-images.service.js';
import type { SandboxJanitorService } from './sandbox-janitor.service.js';
import type { SlotPoolService, SlotSandbox } from './slot-pool.service.js';
import type { ReadySandbox, WarmPoolService } from './warm-pool.service.js';

// The run lifecycle against fakes of Docker, Redis and MongoDB: the failure paths that the
// real services cannot be made to take on demand.

const python: LanguageDefinition = {
  id: 'python',
  name: 'Python',
  version: '3',
  fileName: 'main.py',
  image: 'base',
  compile: null,
  run: 'python3 main.py',
  testProgram: 'test.py',
};
const job: RunJob = {
  runId: 'run-1',
  ownerId: 'alice',
  language: 'python',
  mode: 'run',
  files: [{ path: 'main.py', content: 'print(1)' }],
  stdin: '',
  interactive: false,
};
const config = {
  workerId: 'w',
  sandboxStartMs: SANDBOX_START_MS,
  instance: 'i',
  imageTag: 'latest',
  limits: {
    wallMs: 1000,
    compileWallMs: 1000,
    cpuMs: 1000,
    compileCpuMs: 1000,
    memoryMb: 64,
    cpus: 1,
    pids: 16,
    tmpfsMb: 8,
    fileSizeMb: 8,
    openFiles: 64,
    outputBytes: 1024,
  },
} as unknown as WorkerConfig;

/** A header from the runner, then the program's output, then the exit (when `exit` is called). */
function fakeSandbox() {
  let stdout: (d: Buffer) => void = () => undefined;
  let exit!: (code: number) => void;
  let end!: () => void;
  const io: SandboxIo = {
    write: () => undefined,
    closeStdin: () => undefined,
    onStdout: (cb) => (stdout = cb),
    onStderr: () => undefined,
    ended: new Promise<void>((r) => (end = r)),
  };
  return {
    io,
    exited: new Promise<number>((r) => (exit = r)),
    print: (s: string) => stdout(Buffer.from(s)),
    exit: (code: number) => {
      exit(code);
      end();
    },
  };
}

describe('RunExecutionService', () => {
  let sandbox: ReturnType<typeof fakeSandbox>;
  let announced: RunResult[];
  let finishFailures: number;
  let stored: RunResult[];
  let disposed: string[];
  let kills: number;
  let service: RunExecutionService;
  /** Answers Docker gives late (a hung engine): the pool's sandbox, a created container id. */
  let hungEngine: { take?: Promise<ReadySandbox | null>; create: Promise<string> };
  let answerLate: { take: (s: ReadySandbox | null) => void; create: (id: string) => void };
  /** Languages whose image this worker has (LanguageImagesService). */
  let built: Set<string>;
  let published: { stream: string; data: string }[];
  /** What the pre-run check answers (another worker may have the run, or it was cancelled). */
  let check: 'ok' | 'taken' | 'cancelled';
  /** The same service on the slot tier, with a slot pool stand-in that records what happened. */
  let onSlots: RunExecutionService;
  let slotEvents: string[];

  beforeEach(() => {
    check = 'ok';
    slotEvents = [];
    jest.useFakeTimers();
    sandbox = fakeSandbox();
    announced = [];
    finishFailures = 0;
    stored = [];
    disposed = [];
    kills = 0;
    built = new Set(['python']);
    published = [];
    answerLate = { take: () => undefined, create: () => undefined };
    hungEngine = { create: new Promise<string>((r) => (answerLate.create = r)) };
    const writer = {
      runId: job.runId,
      sent: [],
      status: () => undefined,
      output: (parts: { stream: string; data: string }[]) => published.push(...parts),
      finish: (result: RunResult) => {
        if (finishFailures > 0) {
          finishFailures--;
          return Promise.reject(new Error('READONLY You cannot write against a read only replica'));
        }
        announced.push(result);
        return Promise.resolve(true);
      },
    } as unknown as RunFeedWriter;
    const feeds = {
      open: () => writer,
      onCancel: () => () => undefined,
      onInput: () => () => undefined,
      preRunCheck: () => {
        slotEvents.push('check');
        return Promise.resolve(check);
      },
      markRunning: () => Promise.resolve(),
      unmarkRunning: () => Promise.resolve(),
    } as unknown as RunFeedRepository;
    const docker = {
      create: () => hungEngine.create,
      kill: () => {
        kills++;
        return Promise.resolve(); // Docker says yes, and nothing happens
      },
      oomKilled: () => Promise.resolve(false),
      peakMemoryKb: () => 1000,
      cpuUsageMs: () => null,
    } as unknown as DockerRepository;
    const pool = {
      take: () =>
        hungEngine.take ?? Promise.resolve({ id: 'c1', io: sandbox.io, exited: sandbox.exited }),
    } as unknown as WarmPoolService;
    const janitor = {
      ready: Promise.resolve(),
      dispose: (id: string) => disposed.push(id),
    } as unknown as SandboxJanitorService;
    const runs = {
      markStarted: () => Promise.resolve(false),
      finish: (_: string, result: RunResult) => {
        stored.push(result);
        return Promise.resolve();
      },
    } as unknown as RunRepository;
    const metrics = {
      firstOutputAfter: () => undefined,
      error: () => undefined,
    } as unknown as MetricsRepository;
    const languages = { get: () => python } as unknown as LanguageRepository;
    const images = { has: (id: string) => built.has(id) } as unknown as LanguageImagesService;
    const make = (cfg: WorkerConfig, slots?: SlotPoolService) =>
      new RunExecutionService(
        cfg,
        docker,
        languages,
        feeds,
        runs,
        metrics,
        janitor,
        pool,
        new StartupGateService(),
        images,
        undefined,
        slots,
      );
    service = make(config);
    const slots = {
      take: () => {
        slotEvents.push('take');
        return Promise.resolve({
          id: 'slot-1',
          io: sandbox.io,
          exited: sandbox.exited,
          start: () => Promise.resolve(),
          kill: () => undefined,
          cpuUsageMs: () => null,
          peakMemoryKb: () => null,
          oomKilled: () => Promise.resolve(false),
          release: (clean: boolean) => slotEvents.push(`release ${clean}`),
          giveBack: () => slotEvents.push('give back'),
        } satisfies SlotSandbox);
      },
    } as unknown as SlotPoolService;
    onSlots = make({ ...config, tier: 'slot', tierByLanguage: {} }, slots);
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('runs a program to OK, announces once, stores it and hands the sandbox to the janitor', async () => {
    const done = service.execute(job);
    await jest.advanceTimersByTimeAsync(1);
    sandbox.print('\x1eCODEROOM-COMPILE 0 0\n1\n');
    sandbox.exit(0);
    const result = await done;
    await service.beforeApplicationShutdown(); // the stored copy is written after the slot
    expect(result).toMatchObject({ verdict: 'OK', exitCode: 0, memoryKb: 1000 });
    expect(announced).toEqual([result]);
    expect(stored).toEqual([result]);
    expect(disposed).toEqual(['c1']);
  });

  it('ends a run as SE when Docker does not stop the sandbox after the kill, and frees the slot', async () => {
    const done = service.execute(job);
    await jest.advanceTimersByTimeAsync(1);
    sandbox.print('\x1eCODEROOM-COMPILE 0 0\n');
    await jest.advanceTimersByTimeAsync(config.limits.wallMs); // the wall clock: kill
    expect(kills).toBe(1);
    await jest.advanceTimersByTimeAsync(5000); // the grace period: no exit came
    const result = await done;
    expect(result?.verdict).toBe('SE');
    expect(announced).toEqual([result]);
    expect(disposed).toEqual(['c1']); // the janitor keeps trying to remove it
  });

  it('announces a claimed end even when Redis refuses the first attempts', async () => {
    finishFailures = 2;
    const done = service.execute(job);
    await jest.advanceTimersByTimeAsync(1);
    sandbox.print('\x1eCODEROOM-COMPILE 0 0\n');
    sandbox.exit(3);
    await jest.advanceTimersByTimeAsync(1000);
    const result = await done;
    await service.beforeApplicationShutdown();
    expect(result?.verdict).toBe('RE');
    expect(announced).toEqual([result]);
    expect(stored).toEqual([result]);
  });

  it('ends a run as SE when the pool never hands over a sandbox (hung Docker), and removes the late one', async () => {
    hungEngine.take = new Promise((r) => (answerLate.take = r));
    const done = service.execute(job);
    await jest.advanceTimersByTimeAsync(SANDBOX_START_MS);
    const result = await done;
    expect(result?.verdict).toBe('SE');
    expect(announced).toEqual([result]);
    answerLate.take({ id: 'late', io: sandbox.io, exited: sandbox.exited });
    await jest.advanceTimersByTimeAsync(1);
    expect(disposed).toEqual(['late']);
  });

  it('ends a run as SE when creating its sandbox never answers, and removes it if it comes', async () => {
    hungEngine.take = Promise.resolve(null); // pool empty: a cold start
    const done = service.execute(job);
    await jest.advanceTimersByTimeAsync(SANDBOX_START_MS - 1);
    expect(announced).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    const result = await done;
    expect(result?.verdict).toBe('SE');
    answerLate.create('late-cold');
    await jest.advanceTimersByTimeAsync(1);
    expect(disposed).toEqual(['late-cold']);
  });

  it('ends a run whose language image this worker lacks as CE with the reason, never SE', async () => {
    built = new Set(); // e.g. a mixed cluster: the gateway admitted it for another worker
    const result = await service.execute(job);
    expect(result).toMatchObject({ verdict: 'CE', exitCode: null, signal: null });
    expect(announced).toEqual([result]);
    expect(published).toEqual([
      {
        stream: 'compile',
        data: 'language "python" is not available: coderoom-sandbox-base:latest is not built on this worker\n',
      },
    ]);
    expect(disposed).toEqual([]); // no sandbox was taken
  });

  it('slot tier: takes the slot while the check travels and runs in it', async () => {
    const done = onSlots.execute(job);
    await jest.advanceTimersByTimeAsync(1);
    sandbox.print('\x1eCODEROOM-COMPILE 0 0\n1\n');
    sandbox.exit(0);
    expect((await done)?.verdict).toBe('OK');
    expect(slotEvents).toEqual(['check', 'take', 'release true']);
  });

  it('slot tier: gives the slot back unused when the check says another worker has the run', async () => {
    check = 'taken';
    expect(await onSlots.execute(job)).toBeNull();
    await jest.advanceTimersByTimeAsync(1);
    expect(slotEvents).toEqual(['check', 'take', 'give back']);
    expect(announced).toEqual([]);
  });

  it('slot tier: gives it back unused when the run was cancelled before its check', async () => {
    check = 'cancelled';
    expect((await onSlots.execute(job))?.verdict).toBe('CANCELLED');
    await jest.advanceTimersByTimeAsync(1);
    expect(slotEvents).toEqual(['check', 'take', 'give back']);
  });
});
