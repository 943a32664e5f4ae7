// A language whose sandbox image is not built: the worker starts anyway and serves the others,
// `languages:list` leaves it out, `run:start` and `problem:create` refuse it at once with
// UNSUPPORTED_LANGUAGE; an image built later is offered, one removed is withdrawn; and a run that
// still reaches a worker without the image ends as CE with the reason, never SE.
//
// The language is `ghost`: Python's definition pointing at an image tag nobody builds
// (coderoom-sandbox-ghost-<pid>), installed with the real languages in a LANGUAGES_DIR of this
// test's own, which the gateway and the worker both read.
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { redisKeys, type LanguageInfo } from '@coderoom/contracts';
import {
  REPO,
  runToEnd,
  startStack,
  text,
  until,
  withLogs,
  type ClientSocket,
  type Stack,
} from './harness.js';

const TAG = process.env.SANDBOX_IMAGE_TAG || 'latest';
const GHOST_IMAGE = `coderoom-sandbox-ghost-${process.pid}:${TAG}`;
/** Worker heartbeat (2 s) + the gateway's cache of the workers' reports (5 s) + the scan. */
const NOTICED_MS = 20_000;

let dir: string;
let stack: Stack;
let alice: ClientSocket;

/** The listed ids; polled four times a second (the per-socket event rate is 20/s). */
const listed = async (): Promise<string[]> => {
  await new Promise((r) => setTimeout(r, 250));
  const ack = await alice.emitWithAck('languages:list', {});
  if (!ack.ok) throw new Error(`languages:list: ${JSON.stringify(ack)}`);
  return (ack as { languages: LanguageInfo[] }).languages.map((l) => l.id);
};
const docker = (...args: string[]) => execFileSync('docker', args, { stdio: 'pipe' });
const removeGhostImage = () => {
  try {
    docker('rmi', GHOST_IMAGE); // only the extra tag: the base image keeps its own
  } catch {
    // not there
  }
};

beforeAll(async () => {
  removeGhostImage();
  const real = join(REPO, 'sandbox', 'languages');
  dir = mkdtempSync(join(tmpdir(), 'coderoom-languages-'));
  for (const id of readdirSync(real)) symlinkSync(join(real, id), join(dir, id));
  const python = JSON.parse(readFileSync(join(real, 'python', 'language.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  mkdirSync(join(dir, 'ghost'));
  writeFileSync(
    join(dir, 'ghost', 'language.json'),
    JSON.stringify({
      ...python,
      id: 'ghost',
      name: 'Ghost',
      image: GHOST_IMAGE.slice('coderoom-sandbox-'.length, -`:${TAG}`.length),
    }),
  );
  stack = await startStack({
    name: 'language-images',
    redisDb: 37,
    gatewayEnv: { LANGUAGES_DIR: dir },
    workerEnv: { LANGUAGES_DIR: dir, SANDBOX_IMAGE_SCAN_MS: '1000' },
  });
  alice = await stack.connect(await stack.token('alice', 'instructor'));
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  removeGhostImage();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

it(
  'starts without the image, says so, and lists only the languages it has',
  withLogs(
    () => stack,
    async () => {
      expect(stack.logs()).toContain(`ghost (${GHOST_IMAGE})`);
      await until('languages:list to leave ghost out', async () => {
        const ids = await listed();
        return ids.includes('python') && !ids.includes('ghost');
      });
      const res = await fetch(`${stack.url}/api/languages`);
      const http = (await res.json()) as { languages: LanguageInfo[] };
      expect(http.languages.map((l) => l.id)).not.toContain('ghost');
      expect(http.languages.map((l) => l.id)).toContain('python');
    },
  ),
  30_000,
);

it(
  'refuses run:start and problem:create of it at once with UNSUPPORTED_LANGUAGE; the others run',
  withLogs(
    () => stack,
    async () => {
      const asked = performance.now();
      const refused = await alice.emitWithAck('run:start', { language: 'ghost', source: 'x' });
      const tookMs = performance.now() - asked;
      expect(refused).toMatchObject({
        ok: false,
        error: {
          code: 'UNSUPPORTED_LANGUAGE',
          message: expect.stringContaining('not built on any running worker'),
          details: { reason: 'image-not-built', supported: expect.arrayContaining(['python']) },
        },
      });
      expect(tookMs).toBeLessThan(1000);
      const problem = await alice.emitWithAck('problem:create', {
        title: 'Ghostly',
        statement: 'Print 1.',
        languages: ['ghost'],
        tests: [{ stdin: '', expected: '1\n' }],
      });
      expect(problem).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_LANGUAGE' } });
      const run = await runToEnd(alice, { language: 'python', source: 'print(6 * 7)' });
      expect({ verdict: run.finished.verdict, stdout: text(run.outputs, 'stdout') }).toEqual({
        verdict: 'OK',
        stdout: '42\n',
      });
    },
  ),
  60_000,
);

it(
  'offers it once its image is built, and withdraws it when the image is removed',
  withLogs(
    () => stack,
    async () => {
      docker('tag', `coderoom-sandbox-base:${TAG}`, GHOST_IMAGE);
      await until(
        'languages:list to offer ghost',
        async () => (await listed()).includes('ghost'),
        NOTICED_MS,
      );
      const run = await runToEnd(alice, { language: 'ghost', source: 'print("boo")' });
      expect({ verdict: run.finished.verdict, stdout: text(run.outputs, 'stdout') }).toEqual({
        verdict: 'OK',
        stdout: 'boo\n',
      });
      removeGhostImage();
      await until(
        'languages:list to withdraw ghost',
        async () => !(await listed()).includes('ghost'),
        NOTICED_MS,
      );
      const refused = await alice.emitWithAck('run:start', { language: 'ghost', source: 'x' });
      expect(refused).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_LANGUAGE' } });
    },
  ),
  90_000,
);

it(
  'ends a run that reaches a worker without the image as CE with the reason (not SE); a dead worker’s languages expire',
  withLogs(
    () => stack,
    async () => {
      // A second worker that has ghost's image announces itself the way workers do (its
      // report expires with its heartbeat, here 8 s after it was written: it "dies"). The gateway
      // then admits ghost, and the queue hands the run to the only real worker, which lacks it.
      const redis = new Redis(stack.redisUrl);
      try {
        const limits = await redis.get(redisKeys.workerLimits('test-language-images'));
        expect(limits).not.toBeNull();
        await redis
          .multi()
          .set(redisKeys.workerLimits('other'), limits!, 'PX', 8000)
          .set(redisKeys.workerLanguages('other'), JSON.stringify(['ghost']), 'PX', 8000)
          .sadd(redisKeys.workers, 'other')
          .exec();
      } finally {
        redis.disconnect();
      }
      await until(
        'languages:list to offer ghost',
        async () => (await listed()).includes('ghost'),
        NOTICED_MS,
      );
      const run = await runToEnd(alice, { language: 'ghost', source: 'print("boo")' });
      expect(run.finished).toMatchObject({ verdict: 'CE', exitCode: null });
      expect(text(run.outputs, 'compile')).toBe(
        `language "ghost" is not available: ${GHOST_IMAGE} is not built on this worker\n`,
      );
      expect(text(run.outputs, 'stdout')).toBe('');
      expect(run.statuses.map((s) => s.status)).toEqual(['queued']);
      // The other worker's report expired: ghost is withdrawn again.
      await until(
        'languages:list to withdraw ghost',
        async () => !(await listed()).includes('ghost'),
        NOTICED_MS,
      );
    },
  ),
  90_000,
);
