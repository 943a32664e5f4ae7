// Command lines of the local Redis and FerretDB, shared by the stack (services.mjs) and the
// tests that start services of their own (server/test/harness.ts) to restart them.

/** redis-server on 127.0.0.1:port, not persisted (a restart starts empty), 64 databases. */
export function redisArgs(port, dir) {
  return [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--save',
    '',
    '--appendonly',
    'no',
    // Each test suite has its own database number; the default 16 ran out.
    '--databases',
    '64',
    ...(dir ? ['--dir', dir] : []),
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
