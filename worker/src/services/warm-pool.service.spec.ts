import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { DEFAULT_SANDBOX_START_MS, type WorkerConfig } from '../config/config.js';
import type { DockerRepository, SandboxSpec } from '../repositories/docker.repository.js';
import type { MetricsRepository } from '../repositories/metrics.repository.js';
import type { SandboxJanitorService } from './sandbox-janitor.service.js';
import { WarmPoolService } from './warm-pool.service.js';
import { StartupGateService } from './startup-gate.service.js';
import type { DockerWatchService } from './docker-watch.service.js';

const spec: Omit<SandboxSpec, 'labels'> = {
  image: 'img',
  memoryMb: 64,
  cpus: 1,
  pids: 16,
  tmpfsMb: 8,
  fileSizeMb: 8,
  openFiles: 256,
  cpuSeconds: 5,
};
const tick = () => new Promise((r) => setImmediate(r));

describe('WarmPoolService', () => {
  /** Container starts that Docker has not finished yet, in order. */
  let pending: { id: string; done: () => void }[];
  let removed: string[];
  let pool: WarmPoolService;
  /** Ends a started sandbox (its container exits). */
  let exits: Map<string, () => void>;
  let makePool: (watch?: DockerWatchService) => WarmPoolService;

  beforeEach(() => {
    pending = [];
    removed = [];
    exits = new Map();
    let n = 0;
    const docker = {
      create: () => Promise.resolve(`c${++n}`),
      attach: () => Promise.resolve({}),
      waitForExit: (id: string) => new Promise<number>((r) => exits.set(id, () => r(137))),
      start: (id: string) => new Promise<void>((done) => pending.push({ id, done })),
      remove: (id: string) => {
        removed.push(id);
        return Promise.resolve();
      },
    } as unknown as DockerRepository;
    const metrics = {
      warmPool: { set: () => undefined },
      error: () => undefined,
    } as unknown as MetricsRepository;
    const janitor = { ready: Promise.resolve() } as unknown as SandboxJanitorService;
    const config = {
      warmPoolSize: 2,
      warmPoolMax: 16,
      workerId: 'w',
      sandboxStartMs: DEFAULT_SANDBOX_START_MS,
    } as WorkerConfig;
    makePool = (watch) =>
      new WarmPoolService(config, docker, janitor, metrics, new StartupGateService(), watch);
    pool = makePool();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  /** Fills the pool (c1, c2) and lets both starts finish. */
  const fill = async (p: WarmPoolService) => {
    expect(await p.take(spec)).toBeNull();
    await tick();
    pending.splice(0).forEach((x) => x.done());
    await tick();
    expect(p.size).toBe(2);
  };

  it('starts the first run cold, fills an empty pool two at a time, then one at a time', async () => {
    expect(await pool.take(spec)).toBeNull();
    await tick();
    expect(pending.map((p) => p.id)).toEqual(['c1', 'c2']);
    pending.splice(0).forEach((p) => p.done());
    await tick();
    expect(pool.size).toBe(2);
    expect((await pool.take(spec))?.id).toBe('c1');
    await tick();
    // One is still ready: a single start, so as not to compete with the runs for the CPUs.
    expect(pending.map((p) => p.id)).toEqual(['c3']);
  });

  it('gives a run that finds the pool empty a start already under way', async () => {
    expect(await pool.take(spec)).toBeNull(); // c1, c2 start
    await tick();
    const first = pool.take(spec); // waits for c1
    const second = pool.take(spec); // waits for c2
    expect(await Promise.race([pool.take(spec), tick().then(() => 'waiting')])).toBeNull();
    pending.splice(0).forEach((p) => p.done());
    expect((await first)?.id).toBe('c1');
    expect((await second)?.id).toBe('c2');
    await tick();
    // Both were handed over, so the pool starts its own two again.
    expect(pending.map((p) => p.id)).toEqual(['c3', 'c4']);
  });

  it('on shutdown lets waiting runs start their own and removes what it holds', async () => {
    await pool.take(spec);
    await tick();
    const waiting = pool.take(spec);
    const shutdown = pool.beforeApplicationShutdown();
    expect(await waiting).toBeNull();
    pending.splice(0).forEach((p) => p.done());
    await shutdown;
    await tick();
    expect(removed.sort()).toEqual(['c1', 'c2']);
    expect(pool.size).toBe(0);
  });

  it('on shutdown waits for a refill under way and removes its sandbox before returning', async () => {
    await fill(pool);
    expect((await pool.take(spec))?.id).toBe('c1'); // taken by a run: a refill starts
    await tick();
    expect(pending.map((p) => p.id)).toEqual(['c3']);
    let returned = false;
    const shutdown = pool.beforeApplicationShutdown().then(() => (returned = true));
    await tick();
    expect(returned).toBe(false); // the process would exit and leave c3 behind
    pending.splice(0).forEach((p) => p.done());
    await shutdown;
    expect(removed.sort()).toEqual(['c2', 'c3']);
  });

  it('replaces a pooled sandbox that died after waiting a while, not one that died young', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    await fill(pool);
    exits.get('c1')!(); // at once: a broken image or runner would die like this every time
    await tick();
    expect({ size: pool.size, removed, starts: pending.length }).toEqual({
      size: 1,
      removed: ['c1'],
      starts: 0,
    });
    jest.advanceTimersByTime(10_000);
    exits.get('c2')!(); // e.g. a Docker restart
    await tick();
    expect(removed).toEqual(['c1', 'c2']);
    expect(pending.map((p) => p.id)).toEqual(['c3', 'c4']);
  });

  it('refills once Docker answers again, for sandboxes that died while it did not', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    let changed: (up: boolean) => void = () => undefined;
    const watch = { up: true, onChange: (cb: (up: boolean) => void) => (changed = cb) };
    const watched = makePool(watch as unknown as DockerWatchService);
    watched.onApplicationBootstrap();
    await fill(watched);
    jest.advanceTimersByTime(10_000);
    watch.up = false;
    changed(false);
    exits.get('c1')!();
    exits.get('c2')!();
    await tick();
    expect({ size: watched.size, starts: pending.length }).toEqual({ size: 0, starts: 0 });
    watch.up = true;
    changed(true);
    await tick();
    expect(pending.map((p) => p.id)).toEqual(['c3', 'c4']);
  });

  it('gives up on a start Docker never finishes (hung engine) and removes it if it comes late', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    expect(await pool.take(spec)).toBeNull(); // c1, c2 start and hang
    await tick();
    const waiting = pool.take(spec); // promised c1
    jest.advanceTimersByTime(30_000);
    expect(await waiting).toBeNull(); // that run starts its own sandbox
    pending.splice(0).forEach((p) => p.done()); // Docker answers after all
    await tick();
    expect(removed.sort()).toEqual(['c1', 'c2']);
    expect(pool.size).toBe(0);
  });
});
