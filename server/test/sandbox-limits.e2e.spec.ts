import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { LanguageInfo } from '@coderoom/contracts';
import { runToEnd, startStack, text, type ClientSocket, type Stack } from './harness.js';

// Limits set by the operator reach the sandbox and languages:list: open files and file size
// (their defaults are covered by the hostile corpus), with a tmpfs larger than the file limit.

let stack: Stack;
let alice: ClientSocket;

beforeAll(async () => {
  stack = await startStack({
    name: 'sandbox-limits',
    redisDb: 24,
    workerEnv: { RUN_OPEN_FILES: '40', RUN_FILE_SIZE_MB: '2', RUN_TMPFS_MB: '16' },
  });
  alice = await stack.connect(await stack.token('limits'));
}, 90_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

it('applies RUN_OPEN_FILES and RUN_FILE_SIZE_MB in the sandbox and reports them', async () => {
  const source = [
    'import errno, os, resource',
    'print("nofile", *resource.getrlimit(resource.RLIMIT_NOFILE))',
    'print("fsize", *resource.getrlimit(resource.RLIMIT_FSIZE))',
    'fds = []',
    'try:',
    '    while True:',
    '        fds.append(os.open("/dev/null", os.O_RDONLY))',
    'except OSError as e:',
    '    print("open stopped", errno.errorcode[e.errno], "highest fd", max(fds))',
    'for fd in fds:',
    '    os.close(fd)',
    'with open("/tmp/small", "wb") as f:',
    '    f.write(b"x" * (1024 * 1024))',
    'print("1 MiB written")',
    'try:',
    '    with open("/tmp/big", "wb") as f:',
    '        f.write(b"x" * (3 * 1024 * 1024))',
    'except OSError as e:',
    '    print("3 MiB refused", errno.errorcode[e.errno])',
    '',
  ].join('\n');
  const r = await runToEnd(alice, { language: 'python', source });
  expect(r.finished.verdict).toBe('OK');
  const mib2 = 2 * 1024 * 1024;
  expect(text(r.outputs)).toBe(
    [
      'nofile 40 40',
      `fsize ${mib2} ${mib2}`,
      'open stopped EMFILE highest fd 39',
      '1 MiB written',
      '3 MiB refused EFBIG',
      '',
    ].join('\n'),
  );

  const ack = await alice.emitWithAck('languages:list', {});
  const python = (ack as { ok: true; languages: LanguageInfo[] }).languages.find(
    (l) => l.id === 'python',
  );
  expect(python?.limits).toMatchObject({ openFiles: 40, fileSizeMb: 2, tmpfsMb: 16 });
});
