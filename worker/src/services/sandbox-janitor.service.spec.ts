import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { WorkerConfig } from '../config/config.js';
import type { DockerRepository } from '../repositories/docker.repository.js';
import type { MetricsRepository } from '../repositories/metrics.repository.js';
import { SandboxJanitorService } from './sandbox-janitor.service.js';
import { StartupGateService } from './startup-gate.service.js';

describe('SandboxJanitorService: when used sandboxes are removed', () => {
  let removed: string[];
  let gate: StartupGateService;
  let janitor: SandboxJanitorService;
  beforeEach(() => {
    jest.useFakeTimers();
    removed = [];
    gate = new StartupGateService();
    const docker = {
      remove: (id: string) => {
        removed.push(id);
        return Promise.resolve();
      },
    } as unknown as DockerRepository;
    const metrics = {
      pendingRemovals: { set: () => undefined },
      error: () => undefined,
    } as unknown as MetricsRepository;
    janitor = new SandboxJanitorService({ workerId: 'w' } as WorkerConfig, docker, metrics, gate);
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('a moment after the run, when no other run is starting', async () => {
    janitor.dispose('a');
    await jest.advanceTimersByTimeAsync(29);
    expect(removed).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(removed).toEqual(['a']);
  });

  it('not while a run is starting, unless that takes too long', async () => {
    const starting = gate.begin();
    janitor.dispose('a');
    janitor.dispose('b');
    await jest.advanceTimersByTimeAsync(100);
    expect(removed).toEqual([]);
    starting(); // it printed
    await jest.advanceTimersByTimeAsync(0);
    expect(removed).toEqual(['a', 'b']);
    gate.begin(); // never prints
    janitor.dispose('c');
    await jest.advanceTimersByTimeAsync(30 + 249);
    expect(removed).toEqual(['a', 'b']);
    await jest.advanceTimersByTimeAsync(1);
    expect(removed).toEqual(['a', 'b', 'c']);
  });

  it('all of them before a shutdown ends, the deferred ones included', async () => {
    gate.begin();
    janitor.dispose('a');
    const shutdown = janitor.onApplicationShutdown();
    janitor.dispose('b'); // after the shutdown began: at once
    await jest.advanceTimersByTimeAsync(0);
    expect(removed).toEqual(['b']);
    await jest.advanceTimersByTimeAsync(280);
    await shutdown;
    expect(removed).toEqual(['b', 'a']);
  });
});
