import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RUN_LIMITS } from '@coderoom/contracts';
import type { WorkerConfig } from '../config/config.js';
import type { DockerRepository, SandboxIo } from '../repositories/docker.repository.js';
import type { LanguageRepository } from '../repositories/language.repository.js';
import type { MetricsRepository } from '../repositories/metrics.repository.js';
import type { SlotRepository } from '../repositories/slot.repository.js';
import type { SandboxJanitorService } from './sandbox-janitor.service.js';
import { SlotPoolService } from './slot-pool.service.js';

// A slot taken and given back unused (its run's check said no), on stand-ins for Docker and the
// supervisor: the pool's bookkeeping only. Real slots: server/test/slot.e2e.spec.ts.

/** A supervisor stand-in: reports sandbox 1 ready once booted, and records the frames it gets. */
function fakeSlotIo(frames: string[]): SandboxIo {
  let stdout: (d: Buffer) => void = () => undefined;
  const ready = (n: number) => {
    const payload = Buffer.from(String(n));
    const head = Buffer.alloc(5);
    head.write('R', 0, 'latin1');
    head.writeUInt32BE(payload.length, 1);
    stdout(Buffer.concat([head, payload]));
  };
  let booted = false;
  return {
    write: (data) => {
      if (!booted) {
        booted = true;
        return setImmediate(() => ready(1));
      }
      frames.push(String.fromCharCode(Buffer.from(data)[0]));
    },
    closeStdin: () => undefined,
    onStdout: (cb) => (stdout = cb),
    onStderr: () => undefined,
    ended: new Promise<void>(() => undefined),
  };
}

function pool() {
  const frames: string[] = [];
  const removed: string[] = [];
  let created = 0;
  const config = {
    tier: 'slot',
    tierByLanguage: {},
    slotSocketDir: '',
    workerId: 'w',
    warmPoolSize: 1,
    warmPoolMax: 4,
    concurrency: 1,
    slotRuns: 10,
    sandboxStartMs: 1000,
    warmPoolLanguages: [],
  } as unknown as WorkerConfig;
  const repo = {
    create: () => Promise.resolve({ id: `slot-${++created}`, cgroup: null }),
    counters: () => Promise.resolve(null),
    supervisor: Buffer.from('pass'),
  } as unknown as SlotRepository;
  const docker = {
    attach: () => Promise.resolve(fakeSlotIo(frames)),
    waitForExit: () => new Promise<number>(() => undefined),
    start: () => Promise.resolve(),
  } as unknown as DockerRepository;
  const janitor = {
    ready: Promise.resolve(),
    dispose: (id: string) => removed.push(id),
  } as unknown as SandboxJanitorService;
  const slots = new SlotPoolService(
    config,
    repo,
    docker,
    janitor,
    {} as LanguageRepository,
    { error: () => undefined } as unknown as MetricsRepository,
  );
  return { slots, frames, removed, created: () => created };
}

const spec = { ...DEFAULT_RUN_LIMITS, image: 'coderoom-sandbox-base:latest', cpuSeconds: 2 };

describe('SlotPoolService', () => {
  it('takes back a slot given back unused, with its sandbox still ready, for the next run', async () => {
    const { slots, frames, removed, created } = pool();
    const first = await slots.take(spec);
    first.giveBack();
    const second = await slots.take(spec);
    expect(second.id).toBe(first.id);
    expect(created()).toBe(1);
    second.io.write(Buffer.from('x'));
    expect(frames).toEqual(['D']);
    expect(removed).toEqual([]);
  });

  it('does not take back as unused a slot that was written to: it is retired', async () => {
    const { slots, removed } = pool();
    const lease = await slots.take(spec);
    lease.io.write(Buffer.from('program'));
    lease.giveBack();
    expect(removed).toEqual([lease.id]);
    const next = await slots.take(spec);
    expect(next.id).not.toBe(lease.id);
  });
});
