// Optional stronger isolation: the same service with SANDBOX_RUNTIME=runsc (gVisor, a
// user-space kernel between the program and the host). Runs when Docker knows a `runsc`
// runtime (`npm test` registers one when it starts dockerd itself and Debian's runsc is
// installed); otherwise every test here is skipped with a note. A part of the hostile corpus
// runs here, with the verdicts its manifest expects under runc. Every language's checks run
// under gVisor in languages.e2e.spec.ts (tiers.ts).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  REPO,
  containersOf,
  runToEnd,
  startStack,
  text,
  until,
  withLogs,
  type ClientSocket,
  type Stack,
} from './harness.js';
import { gvisorUnusable } from './tiers.js';

const why = gvisorUnusable();
const present = why === null;
if (why) console.warn(`gVisor tests skipped: ${why}`);
const suite = present ? describe : describe.skip;

interface Attack {
  name: string;
  language: string;
  file: string;
  expect: {
    verdict: string;
    signal?: string;
    exitCode?: number;
    stdoutIncludes?: string[];
    stdoutExcludes?: string[];
  };
}
const HOSTILE = join(REPO, 'sandbox/hostile');
const corpus = JSON.parse(readFileSync(join(HOSTILE, 'manifest.json'), 'utf8')) as Attack[];
/** The part of the corpus that tests the kernel boundary (limits, processes, files, network). */
const PICKED = [
  'fork-bomb.c',
  'memory-2gib.py',
  'infinite-loop.js',
  'sleep-forever.py',
  'fill-tmp.py',
  'orphan.py',
  'kill-all.py',
  'network.py',
  'privilege.py',
];

/**
 * Where gVisor answers differently, and why that is still no escape: these calls are served by
 * gVisor's own kernel, inside the sandbox (Docker's seccomp profile is not applied under runsc).
 * A user namespace, a chroot or a raw socket there reach nothing of the host (no network
 * interface but loopback exists); what gives power over the host or the sandbox stays refused.
 */
const GVISOR_DIFFERENCES: Record<string, Attack['expect']> = {
  'privilege.py': {
    verdict: 'OK',
    stdoutIncludes: [
      'refused setuid(0)',
      'refused mount tmpfs',
      'refused write /etc/passwd',
      'refused init_module',
      'refused settimeofday',
      'refused mknod /box/sda',
      'refused sethostname',
    ],
    stdoutExcludes: ['ESCAPED setuid', 'ESCAPED mount tmpfs', 'ESCAPED write', 'ESCAPED mknod'],
  },
};

let stack: Stack;
let s: ClientSocket;

suite('under gVisor (SANDBOX_RUNTIME=runsc)', () => {
  beforeAll(async () => {
    stack = await startStack({
      name: 'gvisor',
      redisDb: 20,
      workerEnv: {
        SANDBOX_RUNTIME: 'runsc',
        RUN_WALL_MS: '3000',
        RUN_MEMORY_MB: '256',
        RUN_PIDS: '64',
        WORKER_CONCURRENCY: '2',
      },
    });
    s = await stack.connect(await stack.token('gvisor', 'instructor'));
  }, 120_000);

  afterAll(async () => {
    if (process.env.DEBUG_LOGS) console.log(stack?.logs());
    await stack?.stop();
  }, 60_000);

  it(
    'runs Python and compiled C, and reads input, in a gVisor sandbox',
    withLogs(
      () => stack,
      async () => {
        const py = await runToEnd(s, {
          language: 'python',
          source: 'import platform\nprint("hello", input())\nprint(platform.release())',
          stdin: 'gvisor\n',
        });
        expect({ ...py.finished, output: text(py.outputs) }).toMatchObject({ verdict: 'OK' });
        const [hello, release] = text(py.outputs, 'stdout').split('\n');
        expect(hello).toBe('hello gvisor');
        // gVisor's kernel reports its own version, not the host's.
        expect(release).not.toBe(execFileSync('uname', ['-r']).toString().trim());
        const c = await runToEnd(s, {
          language: 'c',
          source: '#include <stdio.h>\nint main(void) { puts("compiled"); return 3; }\n',
        });
        expect({ ...c.finished, output: text(c.outputs) }).toMatchObject({
          verdict: 'RE',
          exitCode: 3,
        });
        expect(text(c.outputs, 'stdout')).toBe('compiled\n');
      },
    ),
    120_000,
  );

  for (const file of PICKED) {
    const listed = corpus.find((a) => a.file === file);
    if (!listed) throw new Error(`${file} is not in the hostile manifest`);
    const attack = { ...listed, expect: GVISOR_DIFFERENCES[file] ?? listed.expect };
    it(
      `${attack.name}: ${attack.expect.verdict}, and its sandbox is removed`,
      withLogs(
        () => stack,
        async () => {
          const rec = await runToEnd(
            s,
            {
              language: attack.language,
              source: readFileSync(join(HOSTILE, file), 'utf8'),
            },
            60_000,
          );
          const out = text(rec.outputs, 'stdout');
          // The whole answer on a mismatch, not just the verdict.
          expect({ ...rec.finished, out }).toEqual(
            expect.objectContaining({ verdict: attack.expect.verdict }),
          );
          if (attack.expect.signal) expect(rec.finished.signal).toBe(attack.expect.signal);
          if (attack.expect.exitCode !== undefined) {
            expect(rec.finished.exitCode).toBe(attack.expect.exitCode);
          }
          for (const want of attack.expect.stdoutIncludes ?? []) expect(out).toContain(want);
          for (const not of attack.expect.stdoutExcludes ?? []) expect(out).not.toContain(not);
          await until('its sandbox to be removed', () => containersOf(rec.runId) === '', 20_000);
        },
      ),
      90_000,
    );
  }
});
