// Small shared helpers for the local stack: paths, logging, PATH lookup, ports, polling.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const LOCAL = path.join(REPO, '.local');
export const dirs = {
  bin: path.join(LOCAL, 'bin'),
  data: path.join(LOCAL, 'data'),
  log: path.join(LOCAL, 'log'),
  cache: path.join(LOCAL, 'cache'),
  run: path.join(LOCAL, 'run'),
};

/** A failure that should end the script with a message and no stack trace. */
export class StackError extends Error {}

export function mkdirp(dir) {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

const color = process.stdout.isTTY && !process.env.NO_COLOR;
export const paint = (code, text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);

export function log(msg) {
  console.log(`${paint('36', '[stack]')} ${msg}`);
}

export function secs(t0) {
  return `${((Date.now() - t0) / 1000).toFixed(1)}s`;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Full path of an executable found on PATH (plus the sbin dirs), or null. */
export function which(cmd) {
  const extra = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of [...(process.env.PATH ?? '').split(':'), ...extra]) {
    if (!dir) continue;
    const file = path.join(dir, cmd);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return null;
}

/** Runs a command quietly; resolves to { code, out } (never rejects). */
export function capture(cmd, args, { env, timeoutMs = 15000 } = {}) {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (err) => resolve({ code: -1, out: String(err) }));
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/** Polls `check` until it returns a truthy value; throws after `timeoutMs` or when `abort()` says why. */
export async function waitFor(what, check, { timeoutMs = 30000, intervalMs = 250, abort } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = abort?.();
    if (why) throw new StackError(`${what}: ${why}`);
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline)
      throw new StackError(`${what}: timed out after ${timeoutMs / 1000}s`);
    await sleep(intervalMs);
  }
}

/** True if a TCP connection to 127.0.0.1:port succeeds. */
export function tcpOpen(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function listenOn(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(null));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const got = srv.address().port;
      srv.close(() => resolve(got));
    });
  });
}

export async function portFree(port) {
  return (await listenOn(port)) !== null && !(await tcpOpen(port));
}

/** `preferred` if it is free, else any free port. */
export async function pickPort(preferred) {
  if (await portFree(preferred)) return preferred;
  return listenOn(0);
}
