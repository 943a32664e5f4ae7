import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { runToEnd, startStack, text, type ClientSocket, type Stack } from './harness.js';

// Python programs run inside the sandbox runner's own, already started interpreter
// (`"run": "@python main.py"`, sandbox/runner/coderoom-runner). Each program here runs twice
// through the whole system: as the language `python` (in the runner) and as a Bash run whose
// script does `exec python3 -u main.py` (a fresh interpreter, what the runner stands in for).
// Everything the program can observe must be the same: both streams, verdict and exit code.

let stack: Stack;
let s: ClientSocket;

beforeAll(async () => {
  stack = await startStack({
    name: 'python-runner',
    redisDb: 22,
    workerEnv: { WARM_POOL_SIZE: '2', WORKER_CONCURRENCY: '2' },
  });
  s = await stack.connect(await stack.token('py'));
}, 90_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

const STDIN = 'first line\nsecond line\n';

const PROGRAMS: Record<string, string> = {
  'module, argv, path and file': [
    '"""the docstring"""',
    'import sys, os',
    'print(__name__, __file__, sys.argv, sys.orig_argv, sys.path[0], os.getcwd())',
    'print(__doc__, __package__, __spec__, type(__loader__).__name__, __cached__)',
    'print(sorted(globals()))',
    'import __main__; print(__main__ is sys.modules["__main__"], __builtins__.__name__)',
  ].join('\n'),
  'no modules beyond what the interpreter loads': [
    'import sys',
    'print([m for m in ("runpy", "subprocess", "signal", "types", "threading") if m in sys.modules])',
  ].join('\n'),
  'signal dispositions': [
    'import signal',
    'print(signal.getsignal(signal.SIGPIPE), signal.getsignal(signal.SIGINT))',
  ].join('\n'),
  'stdin by input() and by sys.stdin': 'print(input())\nimport sys\nprint(repr(sys.stdin.read()))',
  'an uncaught exception: traceback and exit 1': [
    'def inner():',
    '    raise ValueError("boom")',
    'def outer():',
    '    try:',
    '        inner()',
    '    except ValueError as e:',
    '        raise RuntimeError("wrapped") from e',
    'print("before")',
    'outer()',
  ].join('\n'),
  'a syntax error': 'print("ok")\nprint((\n',
  'sys.exit with a code': 'import sys\nprint("x")\nsys.exit(3)',
  'sys.exit with a message': 'import sys\nsys.exit("bye")',
  'KeyboardInterrupt ends by SIGINT': 'raise KeyboardInterrupt',
  'atexit and a non-daemon thread': [
    'import atexit, threading, time',
    'atexit.register(lambda: print("at exit"))',
    'def work():',
    '    time.sleep(0.2)',
    '    print("thread done")',
    'threading.Thread(target=work).start()',
    'print("main done")',
  ].join('\n'),
  'recursion as deep as the interpreter allows': [
    'import sys',
    'def depth(n): return 0 if n == 0 else 1 + depth(n - 1)',
    'print(depth(998), sys.getrecursionlimit())',
    'sys.setrecursionlimit(3000)',
    'print(depth(2998), sys.getrecursionlimit())',
    'depth(2999)',
  ].join('\n'),
  'pickling a class of __main__, multiprocessing by spawn': [
    'import multiprocessing as mp, pickle',
    'class A: pass',
    'def square(x): return x * x',
    'if __name__ == "__main__":',
    '    print(len(pickle.dumps(A())) > 0, A.__module__)',
    '    mp.set_start_method("spawn")',
    '    with mp.Pool(2) as pool: print(pool.map(square, [1, 2, 3]))',
  ].join('\n'),
  'os._exit': 'import os\nprint("bye", flush=True)\nos._exit(7)',
};

it.each(Object.entries(PROGRAMS))(
  'runs Python in the runner as python3 -u would: %s',
  async (_name, program) => {
    const files = (entry: { path: string; content: string }[]) => [
      ...entry,
      { path: 'main.py', content: program },
    ];
    const [inRunner, fresh] = await Promise.all([
      runToEnd(s, { language: 'python', files: files([]), stdin: STDIN }, 60_000),
      runToEnd(
        s,
        {
          language: 'bash',
          files: files([{ path: 'main.sh', content: 'exec python3 -u main.py\n' }]),
          stdin: STDIN,
        },
        60_000,
      ),
    ]);
    const observed = (r: typeof inRunner) => ({
      stdout: text(r.outputs, 'stdout'),
      stderr: text(r.outputs, 'stderr'),
      verdict: r.finished.verdict,
      exitCode: r.finished.exitCode,
      signal: r.finished.signal,
    });
    expect(observed(inRunner)).toEqual(observed(fresh));
    // Not vacuous: every program prints or fails.
    expect(text(inRunner.outputs).length).toBeGreaterThan(0);
  },
  90_000,
);

it('really runs the program inside the runner (no second interpreter started)', async () => {
  const run = await runToEnd(s, {
    language: 'python',
    source: 'print(open("/proc/self/cmdline", "rb").read().split(b"\\0")[:3])',
  });
  expect(run.finished.verdict).toBe('OK');
  expect(text(run.outputs, 'stdout')).toBe(
    "[b'/usr/bin/python3', b'-u', b'/usr/local/lib/coderoom-runner.pyc']\n",
  );
}, 30_000);
