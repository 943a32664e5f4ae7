// Step 7: Redis and FerretDB as child processes on 127.0.0.1, unless REDIS_URL / MONGODB_URI are given.
import path from 'node:path';
import { ferretdbArgs, redisArgs } from './service-args.mjs';
import { REPO, dirs, log, mkdirp, pickPort, secs, tcpOpen, waitFor, which } from './util.mjs';

async function startService(sup, name, cmd, args, { port, logTag, restart }) {
  const t0 = Date.now();
  const logFile = path.join(mkdirp(dirs.log), `${logTag}${name}.log`);
  // With `restart`, started again on the same port and data when it dies (procs.mjs).
  const p = sup.spawn(name, cmd, args, { kind: 'service', logFile, cwd: REPO, restart });
  await waitFor(`${name} on port ${port}`, () => tcpOpen(port), {
    timeoutMs: 30000,
    intervalMs: 100,
    abort: () => (p.gaveUp || (!restart && p.done)) && `exited with code ${p.code}; see ${logFile}`,
  });
  log(
    `${name}: listening on 127.0.0.1:${port}, pid ${p.pid} (${secs(t0)}; log ${path.relative(REPO, logFile)})`,
  );
}

/** Returns the env entries (REDIS_URL, MONGODB_URI) for the children. */
export async function startServices(sup, { ferretdbBin, dataDir, logTag = '', restart = false }) {
  const env = {};
  if (process.env.REDIS_URL) {
    log(`redis: using REDIS_URL from the environment`);
  } else {
    const port = await pickPort(6390);
    const args = redisArgs(port, mkdirp(path.join(dataDir, 'redis')));
    await startService(sup, 'redis', which('redis-server') ?? 'redis-server', args, {
      port,
      logTag,
      restart,
    });
    env.REDIS_URL = `redis://127.0.0.1:${port}`;
  }
  if (process.env.MONGODB_URI) {
    log(`ferretdb: using MONGODB_URI from the environment`);
  } else {
    const port = await pickPort(27027);
    const args = ferretdbArgs(
      port,
      mkdirp(path.join(dataDir, 'ferretdb')),
      mkdirp(path.join(dataDir, 'ferretdb-state')),
    );
    await startService(sup, 'ferretdb', ferretdbBin, args, { port, logTag, restart });
    env.MONGODB_URI = `mongodb://127.0.0.1:${port}/coderoom`;
  }
  return env;
}
