// Tracks every process the stack starts, so that exactly those (and nothing else) get stopped.
//
// Each child runs in its own process group (detached), and is stopped by signalling that
// group, which also reaches its own children (jest workers, debootstrap, ...).
// Kinds, stopped in this order:
//   task    - one-shot commands (npm ci, go build, jest ...)
//   app     - gateway / worker
//   service - redis, ferretdb
//   daemon  - dockerd, only when we started it
// The list is mirrored to .local/run/<lock>.json so a later run can clean up after a run
// that was killed with SIGKILL, and so two runs do not share one data directory.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { spawn } from 'node:child_process';
import { StackError, dirs, log, mkdirp, sleep } from './util.mjs';

const STOP_ORDER = [['task', 'app'], ['service'], ['daemon']];
const GRACE_MS = 10000;

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, ...], or null. */
function stat(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Alive and not a zombie. */
export function alive(pid) {
  const s = stat(pid);
  return !!s && s[0] !== 'Z';
}

/** pid plus start time: tells a process apart from a later one that reuses its pid. */
const identity = (pid) => (stat(pid) ? `${pid}@${stat(pid)[19]}` : null);
const running = (pid, id) => alive(pid) && identity(pid) === id;

function signalGroup(pgid, sig) {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false; // no such group (any more)
  }
}

/** True while a process group has members that are not zombies. */
function groupExists(pgid) {
  for (const name of fs.readdirSync('/proc')) {
    const s = /^\d+$/.test(name) && stat(name);
    if (s && s[0] !== 'Z' && Number(s[2]) === pgid) return true;
  }
  return false;
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** SIGTERM a process group, SIGKILL what is left after `graceMs`. */
async function stopGroup(pgid, graceMs) {
  signalGroup(pgid, 'SIGTERM');
  for (let t = 0; t < graceMs && groupExists(pgid); t += 100) await sleep(100);
  signalGroup(pgid, 'SIGKILL');
}

export class Supervisor {
  constructor(lockName, mode) {
    this.mode = mode;
    this.procs = [];
    this.stopping = false;
    this.onUnexpectedExit = null;
    this.stateFile = path.join(mkdirp(dirs.run), `${lockName}.json`);
  }

  /** Claims the lock; cleans up processes of an earlier run of the same lock that died. */
  async acquire() {
    let old = null;
    try {
      old = JSON.parse(fs.readFileSync(this.stateFile, 'utf8'));
    } catch {
      // no earlier run
    }
    if (old && running(old.owner, old.ownerId)) {
      throw new StackError(
        `another stack (${old.mode}, pid ${old.owner}) is running from this checkout; stop it first`,
      );
    }
    for (const p of old?.procs ?? []) {
      // Ours if the leader is still the same process, or if the leader is gone but its group
      // lives on (a pid is not reused while a process group of that number exists).
      const ours = alive(p.pid) ? identity(p.pid) === p.id : groupExists(p.pid);
      if (p.kind === 'daemon' || !ours) continue;
      log(`stopping ${p.name} (pid ${p.pid}) left over from an earlier run`);
      await stopGroup(p.pid, GRACE_MS);
    }
    this.acquired = true;
    this.save();
  }

  save() {
    if (!this.acquired) return;
    const procs = this.procs
      .filter((p) => !p.done)
      .map((p) => ({ name: p.name, kind: p.kind, pid: p.pid, id: identity(p.pid) }));
    const state = { owner: process.pid, ownerId: identity(process.pid), mode: this.mode, procs };
    fs.writeFileSync(this.stateFile, JSON.stringify(state, null, 2));
  }

  /** Other stacks of this checkout that are still running (they may use our dockerd). */
  otherOwners() {
    const owners = [];
    for (const f of fs.readdirSync(dirs.run).filter((f) => f.endsWith('.json'))) {
      if (path.join(dirs.run, f) === this.stateFile) continue;
      try {
        const { owner, ownerId } = JSON.parse(fs.readFileSync(path.join(dirs.run, f), 'utf8'));
        if (running(owner, ownerId)) owners.push(owner);
      } catch {
        // unreadable: ignore
      }
    }
    return owners;
  }

  /**
   * Starts a tracked process. Output: `logFile` (appended), `prefix` (lines prefixed on our
   * stdout/stderr) or inherited. With `respawn`, a process that exits while we are not stopping
   * is started again (like systemd's Restart=always), instead of ending the stack.
   */
  spawn(name, cmd, args, opts = {}) {
    const { kind, env, cwd, logFile, prefix, respawn } = opts;
    if (this.stopping) throw new StackError(`not starting ${name}: stopping`);
    let stdio = ['ignore', 'inherit', 'inherit'];
    let fd = null;
    if (logFile) {
      fd = fs.openSync(logFile, 'a');
      stdio = ['ignore', fd, fd];
    } else if (prefix) {
      stdio = ['ignore', 'pipe', 'pipe'];
    }
    const child = spawn(cmd, args, { env, cwd, stdio, detached: true });
    if (fd !== null) fs.closeSync(fd);
    const p = { name, kind, child, pid: child.pid, done: false, code: null, signal: null };
    p.exited = new Promise((resolve) => {
      const finish = (code, sig) => {
        if (p.done) return;
        Object.assign(p, { done: true, code, signal: sig });
        resolve(p);
        if (kind === 'task') return;
        setImmediate(() => {
          if (this.stopping) return;
          if (respawn) return this.respawn(p, cmd, args, opts);
          this.onUnexpectedExit?.(p);
        });
      };
      child.on('close', finish); // after 'exit' and after its piped output is read
      child.on('error', (err) => {
        log(`${name}: ${err.message}`);
        finish(-1, null);
      });
    });
    if (prefix && !logFile) {
      for (const [stream, out] of [
        [child.stdout, process.stdout],
        [child.stderr, process.stderr],
      ]) {
        readline
          .createInterface({ input: stream })
          .on('line', (l) => out.write(`${prefix} ${l}\n`));
      }
    }
    this.procs.push(p);
    if (p.pid) this.save();
    return p;
  }

  /**
   * Starts a `respawn` process again after it exited (waits 1 s: no busy loop), after stopping
   * what is left of its process group; one that dies 5 times within a minute ends the stack.
   */
  async respawn(p, cmd, args, opts) {
    const now = Date.now();
    this.respawns = (this.respawns ?? []).filter((t) => now - t < 60_000).concat(now);
    if (this.respawns.length > 5) {
      log(`${p.name} keeps exiting: not starting it again`);
      this.onUnexpectedExit?.(p);
      return;
    }
    log(`${p.name} (pid ${p.pid}) exited (${p.signal ?? `code ${p.code}`}); starting it again`);
    if (groupExists(p.pid)) await stopGroup(p.pid, 2000);
    await sleep(1000);
    if (this.stopping) return;
    this.procs = this.procs.filter((q) => q !== p);
    const again = this.spawn(p.name, cmd, args, opts);
    log(`${p.name}: started again, pid ${again.pid}`);
  }

  /** Runs a one-shot command to completion; resolves to its exit code. */
  async run(name, cmd, args, opts = {}) {
    const p = this.spawn(name, cmd, args, { ...opts, kind: 'task' });
    await p.exited;
    return p.signal ? 128 : p.code;
  }

  async stopOne(p) {
    signalGroup(p.pid, 'SIGTERM');
    const killer = setTimeout(() => {
      log(`${p.name} (pid ${p.pid}) did not stop within ${GRACE_MS / 1000}s: SIGKILL`);
      signalGroup(p.pid, 'SIGKILL');
    }, GRACE_MS);
    await p.exited;
    clearTimeout(killer);
    if (groupExists(p.pid)) await stopGroup(p.pid, 2000); // its children, if they linger
    log(`stopped ${p.name} (pid ${p.pid})`);
  }

  /** Stops everything we started, in order. Safe to call more than once. */
  stopAll() {
    this.stopAllPromise ??= (async () => {
      this.stopping = true;
      for (const kinds of STOP_ORDER) {
        const batch = this.procs.filter((p) => kinds.includes(p.kind) && !p.done && p.pid);
        if (kinds.includes('daemon') && batch.length && this.otherOwners().length) {
          const others = this.otherOwners().join(', ');
          for (const p of batch) log(`leaving ${p.name} running: in use by stack pid ${others}`);
          continue;
        }
        await Promise.all(batch.map((p) => this.stopOne(p)));
      }
      if (this.acquired) fs.rmSync(this.stateFile, { force: true });
    })();
    return this.stopAllPromise;
  }

  /** Last resort from process.on('exit'): synchronous, so no waiting on events. */
  stopAllSync() {
    const keepDaemon = this.otherOwners().length > 0;
    const left = this.procs.filter((p) => p.pid && !p.done && !(keepDaemon && p.kind === 'daemon'));
    for (const p of left) signalGroup(p.pid, 'SIGTERM');
    for (let t = 0; t < 3000 && left.some((p) => alive(p.pid)); t += 50) sleepSync(50);
    for (const p of left) {
      signalGroup(p.pid, 'SIGKILL');
      console.log(`[stack] stopped ${p.name} (pid ${p.pid})`);
    }
    if (this.acquired) fs.rmSync(this.stateFile, { force: true });
  }
}
