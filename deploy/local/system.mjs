// Steps 1-5: Debian packages, npm dependencies, build, Docker daemon, sandbox images.
import fs from 'node:fs';
import path from 'node:path';
import { REPO, StackError, capture, dirs, log, mkdirp, secs, waitFor, which } from './util.mjs';

// command -> Debian package that provides it
const PACKAGES = {
  dockerd: 'docker.io',
  docker: 'docker.io',
  'redis-server': 'redis-server',
  debootstrap: 'debootstrap',
  chromium: 'chromium',
  haproxy: 'haproxy',
  // gVisor, the optional sandbox runtime (SANDBOX_RUNTIME=runsc), tested when registered.
  runsc: 'runsc',
};

const isRoot = () => process.getuid?.() === 0;

/** apt-get install, with one `apt-get update` per run. */
let aptUpdated = false;
export async function aptInstall(sup, pkgs) {
  if (!isRoot()) {
    throw new StackError(`not root: please run  sudo apt-get install -y ${pkgs.join(' ')}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const t0 = Date.now();
  log(`apt-get install ${pkgs.join(' ')} ...`);
  if (!aptUpdated) {
    if ((await sup.run('apt-get', 'apt-get', ['update'], { env })) !== 0) {
      throw new StackError('apt-get update failed');
    }
    aptUpdated = true;
  }
  if ((await sup.run('apt-get', 'apt-get', ['install', '-y', ...pkgs], { env })) !== 0) {
    throw new StackError(`apt-get install ${pkgs.join(' ')} failed`);
  }
  log(`apt-get install done (${secs(t0)})`);
}

// Debian's python-socketio drives the third-party client test (server/test/clients).
const PYTHON_PACKAGES = ['python3-socketio', 'python3-websocket'];
const pythonModulesPresent = async () =>
  fs.existsSync('/usr/bin/python3') &&
  (await capture('/usr/bin/python3', ['-c', 'import socketio, websocket'])).code === 0;

export async function ensurePackages(sup) {
  const missing = Object.keys(PACKAGES).filter((cmd) => !which(cmd));
  const pythonMissing = !(await pythonModulesPresent());
  if (!missing.length && !pythonMissing) return log('system packages: present');
  const pkgs = [...new Set(missing.map((cmd) => PACKAGES[cmd]))];
  if (pythonMissing) pkgs.push(...PYTHON_PACKAGES);
  log(`missing: ${[...missing, ...(pythonMissing ? ['python3 socketio'] : [])].join(', ')}`);
  await aptInstall(sup, pkgs);
}

/**
 * The Node ABI node_modules' native addons were built for (node-gyp builds, e.g. ssh2's crypto
 * binding and cpu-features): an install by another Node (the machine's, before the stack ran on
 * the pinned one) is rebuilt for this one, else those addons fail to load (their packages fall
 * back to JavaScript without a word).
 */
const ABI_MARKER = path.join(REPO, 'node_modules', '.coderoom-node.json');
const installedAbi = () => {
  try {
    return JSON.parse(fs.readFileSync(ABI_MARKER, 'utf8')).modules;
  } catch {
    return null;
  }
};
const recordAbi = () =>
  fs.writeFileSync(
    ABI_MARKER,
    `${JSON.stringify({ node: process.version, modules: process.versions.modules })}\n`,
  );

export async function ensureNpmDeps(sup) {
  const marker = path.join(REPO, 'node_modules', '.package-lock.json');
  const lock = path.join(REPO, 'package-lock.json');
  const mtime = (f) => fs.statSync(f, { throwIfNoEntry: false })?.mtimeMs;
  if (mtime(marker) && mtime(marker) >= mtime(lock)) {
    if (installedAbi() === process.versions.modules) return log('npm dependencies: up to date');
    const t0 = Date.now();
    log(
      `npm rebuild: native addons for Node ${process.version} (ABI ${process.versions.modules}) ...`,
    );
    if ((await sup.run('npm', 'npm', ['rebuild'], { cwd: REPO })) !== 0) {
      throw new StackError('npm rebuild failed');
    }
    recordAbi();
    return log(`npm rebuild done (${secs(t0)})`);
  }
  const t0 = Date.now();
  // `npm install`, not `npm ci`: it installs the locked versions too, but npm 11 writes locks
  // without other platforms' optional packages and then its own `npm ci` refuses them.
  log(`npm install (locked versions, Node ${process.version}) ...`);
  const args = ['install', '--no-audit', '--no-fund'];
  if ((await sup.run('npm', 'npm', args, { cwd: REPO })) !== 0) {
    throw new StackError('npm install failed');
  }
  recordAbi();
  log(`npm install done (${secs(t0)})`);
}

export async function build(sup) {
  const t0 = Date.now();
  log('npm run build ...');
  if ((await sup.run('npm', 'npm', ['run', 'build'], { cwd: REPO })) !== 0) {
    throw new StackError('npm run build failed');
  }
  log(`build done (${secs(t0)})`);
}

const dockerUp = async () => (await capture('docker', ['info'])).code === 0;

/**
 * gVisor for sandboxes: they have no network, so runsc runs without its network stack (which
 * also avoids its refusal to start in some hosts' network namespaces).
 */
function runscWrapper() {
  const runsc = which('runsc');
  if (!runsc) return null;
  const file = path.join(mkdirp(dirs.bin), 'runsc-sandbox');
  fs.writeFileSync(file, `#!/bin/sh\nexec ${runsc} --network=none "$@"\n`, { mode: 0o755 });
  return file;
}

const dockerRuntimes = async () => {
  const r = await capture('docker', ['info', '--format', '{{json .Runtimes}}']);
  try {
    return Object.keys(JSON.parse(r.out));
  } catch {
    return [];
  }
};

/** Uses a running Docker daemon, or starts dockerd (and then owns it: it is stopped at exit). */
export async function ensureDocker(sup) {
  if (await dockerUp()) {
    log('docker: daemon already running (will be left running)');
    if (!(await dockerRuntimes()).includes('runsc')) {
      log('docker: no "runsc" runtime registered: the gVisor tests will be skipped');
    }
    return;
  }
  const dockerd = which('dockerd');
  if (!dockerd) throw new StackError('dockerd not found');
  const t0 = Date.now();
  const logFile = path.join(mkdirp(dirs.log), 'dockerd.log');
  const runsc = runscWrapper();
  const args = runsc ? ['--add-runtime', `runsc=${runsc}`] : [];
  // Restarted if it exits, as its systemd unit would (the Docker-restart test relies on it).
  const p = sup.spawn('dockerd', dockerd, args, { kind: 'daemon', logFile, restart: true });
  await waitFor('dockerd', dockerUp, {
    timeoutMs: 30000,
    intervalMs: 500,
    abort: () => p.done && `exited with code ${p.code}; see ${logFile}`,
  });
  log(`docker: started dockerd, pid ${p.pid} (${secs(t0)}; log ${path.relative(REPO, logFile)})`);
}

export async function buildSandboxImages(sup, env) {
  const script = path.join(REPO, 'sandbox', 'build-images.mjs');
  if (!fs.existsSync(script))
    return log('sandbox images: sandbox/build-images.mjs missing, skipped');
  const t0 = Date.now();
  const code = await sup.run('sandbox images', process.execPath, [script], { cwd: REPO, env });
  if (code !== 0) throw new StackError('sandbox/build-images.mjs failed');
  log(`sandbox images: ready (${secs(t0)})`);
}
