import { describe, expect, it } from '@jest/globals';
import type { RunJob } from '@coderoom/contracts';
import type { RunFeedRepository } from '../repositories/run-feed.repository.js';
import { SandboxRun, type SandboxRunDeps } from './sandbox-run.js';

const job: RunJob = {
  runId: 'run-1',
  ownerId: 'alice',
  language: 'python',
  mode: 'run',
  files: [{ path: 'main.py', content: 'print(1)' }],
  stdin: '',
  interactive: false,
};

function newRun(): SandboxRun {
  const feeds = {
    open: () => ({ sent: [] }),
    onCancel: () => () => undefined,
    preRunCheck: () => Promise.resolve('taken'),
  } as unknown as RunFeedRepository;
  return new SandboxRun(job, { feeds } as unknown as SandboxRunDeps);
}

// The happy and failure paths run through RunExecutionService (run-execution.service.spec.ts);
// here only the order of the steps.
describe('SandboxRun: the steps of a run', () => {
  it('refuses a step out of order', async () => {
    const run = newRun();
    await expect(run.start()).rejects.toThrow('step new -> started is not allowed');
    await expect(run.getSandbox()).rejects.toThrow('step new -> sandboxed is not allowed');
    expect(await run.check()).toBe('taken');
    await expect(run.check()).rejects.toThrow('step checked -> checked is not allowed');
    await expect(run.waitForExit()).rejects.toThrow('step checked -> exited is not allowed');
    await expect(run.store()).rejects.toThrow('store before an announced finish');
    expect(run.status).toBe('checked');
  });

  it('cleans up from any state, once', async () => {
    const run = newRun();
    await run.cleanUp();
    expect(run.status).toBe('cleaned');
    await expect(run.cleanUp()).rejects.toThrow('cleaned up twice');
    await expect(run.check()).rejects.toThrow('step cleaned -> checked is not allowed');
  });
});
