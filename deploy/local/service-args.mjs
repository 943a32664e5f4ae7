// Command lines of the local Redis and FerretDB, shared by the stack (services.mjs) and the
// tests that start services of their own (server/test/harness.ts) to restart them; and the
// local workers' directory of slot sockets, shared by the stack, the tests and the benchmarks.
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * redis-server on 127.0.0.1:port with 64 databases. With `dir`, it keeps an append-only file
 * there (fsync once a second, Redis's default), like a production Redis with persistence: the
 * queue, the replay logs and the live run states survive a restart on the same dir. A crash
 * (SIGKILL) loses at most the last second of writes; a stop (SIGTERM) loses nothing.
 * Without `dir`, nothing is persisted.
 */
export function redisArgs(port, dir) {
  return [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--save',
    '',
    ...(dir
      ? ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec']
      : ['--appendonly', 'no']),
    // Each test suite has its own database number; the default 16 ran out.
    '--databases',
    '64',
    '--daemonize',
    'no',
  ];
}

/** FerretDB on 127.0.0.1:port with its SQLite files in sqliteDir and its state in stateDir. */
export function ferretdbArgs(port, sqliteDir, stateDir) {
  return [
    '--handler=sqlite',
    `--sqlite-url=file:${sqliteDir}/`, // the trailing slash matters
    `--listen-addr=127.0.0.1:${port}`,
    `--state-dir=${stateDir}`,
    '--debug-addr=-', // no metrics/pprof HTTP listener (its default port 8088 may be taken)
    '--telemetry=disable',
    '--log-level=warn',
  ];
}

/**
 * SANDBOX_SLOT_SOCKETS of the local workers (`npm start`, `stack.mjs cluster`, the test stacks,
 * the benchmarks): the caller's, else <tmpdir>/coderoom-slots. Set to '' it keeps the attach
 * stream (sandbox/slot/README.md, "The frames' way").
 */
export function localSlotSockets(env = process.env) {
  return env.SANDBOX_SLOT_SOCKETS ?? join(tmpdir(), 'coderoom-slots');
}
