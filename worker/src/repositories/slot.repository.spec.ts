import { join } from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import { DEFAULT_RUN_LIMITS } from '@coderoom/contracts';
import { loadWorkerConfig } from '../config/config.js';
import { CgroupV1Counters } from './cgroup-counters.js';
import type { DockerRepository, SandboxSpec } from './docker.repository.js';
import { SlotRepository } from './slot.repository.js';

// What a slot container is created with, on a Docker stand-in (the real containers are made and
// attacked in server/test/slot.e2e.spec.ts and the hostile corpus on the slot tier).
const containers = {
  scope: 'test-scope',
  peakCgroupsUsed: () => Promise.resolve(true),
} as unknown as DockerRepository;

const spec: SandboxSpec = {
  ...DEFAULT_RUN_LIMITS,
  image: 'coderoom-sandbox-base:latest',
  labels: {},
  cpuSeconds: 6,
};

function repoWith(env: Record<string, string>) {
  const config = loadWorkerConfig({
    REDIS_URL: 'redis://127.0.0.1:6379',
    MONGODB_URI: 'mongodb://127.0.0.1:27017/test',
    SANDBOX_TIER: 'slot',
    // The defaults are found from the built files (dist/); jest runs the sources.
    SANDBOX_SECCOMP: join(process.cwd(), 'sandbox/seccomp/coderoom.json'),
    SANDBOX_SLOT_SECCOMP: join(process.cwd(), 'sandbox/seccomp/coderoom-slot.json'),
    SANDBOX_SLOT_SUPERVISOR: join(process.cwd(), 'sandbox/slot/supervisor.py'),
    ...env,
  });
  const repo = new SlotRepository(config, containers);
  const createContainer = jest.fn((options: { HostConfig: { SecurityOpt: string[] } }) =>
    Promise.resolve({ id: 'c0ffee', options }),
  );
  (repo as unknown as { docker: unknown }).docker = { createContainer };
  return { repo, createContainer };
}

describe('SlotRepository', () => {
  it('runs slots under SANDBOX_SLOT_APPARMOR when one is named, and leaves it to Docker otherwise', async () => {
    const named = repoWith({ SANDBOX_SLOT_APPARMOR: 'coderoom-slot' });
    await named.repo.create(spec);
    const opts = named.createContainer.mock.calls[0][0].HostConfig.SecurityOpt;
    expect(opts).toContain('apparmor=coderoom-slot');
    expect(opts).toContain('no-new-privileges');
    expect(opts.some((o) => o.startsWith('seccomp={'))).toBe(true);

    const unnamed = repoWith({});
    await unnamed.repo.create(spec);
    const plain = unnamed.createContainer.mock.calls[0][0].HostConfig.SecurityOpt;
    expect(plain.some((o) => o.startsWith('apparmor='))).toBe(false);
  });

  it("binds a slot's own socket read-only and tells its supervisor where it is, and nothing without one", async () => {
    const { repo, createContainer } = repoWith({});
    await repo.create(spec, '/tmp/coderoom-slots/w/0123456789abcdef.sock');
    await repo.create(spec);
    const [withSocket, without] = createContainer.mock.calls.map(
      ([o]) => o as unknown as { HostConfig: { Binds?: string[] }; Entrypoint: string[] },
    );
    expect(withSocket.HostConfig.Binds).toEqual([
      '/tmp/coderoom-slots/w/0123456789abcdef.sock:/slot/worker.sock:ro',
    ]);
    expect(JSON.parse(withSocket.Entrypoint.at(-1)!)).toMatchObject({
      socket: '/slot/worker.sock',
    });
    expect(without.HostConfig.Binds).toBeUndefined();
    expect(JSON.parse(without.Entrypoint.at(-1)!)).not.toHaveProperty('socket');
  });

  it('refuses a profile name that is not one', () => {
    expect(() => repoWith({ SANDBOX_SLOT_APPARMOR: 'unconfined; rm' })).toThrow(/AppArmor/);
  });

  it('reads a cgroup v1 slot through its parent cgroup, without asking Docker', async () => {
    const { repo } = repoWith({});
    const { cgroup } = await repo.create(spec);
    expect(cgroup).toMatch(/^\/coderoom\/[0-9a-f-]{36}\/c0ffee$/);
    expect(await repo.counters('c0ffee', cgroup)).toBeInstanceOf(CgroupV1Counters);
  });
});
