// One way to start, watch and stop a child process, shared by the local stack (procs.mjs), the
// test harness (server/test/harness.ts) and the benchmarks (deploy/bench/). Node built-ins only:
// the stack uses it before `npm install`.
import fs from 'node:fs';
import readline from 'node:readline';
import { spawn } from 'node:child_process';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...], or null. */
export function procStat(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Alive and not a zombie. */
export function alive(pid) {
  const s = procStat(pid);
  return !!s && s[0] !== 'Z';
}

/** pid plus start time: tells a process apart from a later one that reuses its pid. */
export const identity = (pid) => (procStat(pid) ? `${pid}@${procStat(pid)[19]}` : null);

export function signalGroup(pgid, sig) {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false; // no such group (any more)
  }
}

/** True while a process group has members that are not zombies. */
export function groupExists(pgid) {
  for (const name of fs.readdirSync('/proc')) {
    const s = /^\d+$/.test(name) && procStat(name);
    if (s && s[0] !== 'Z' && Number(s[2]) === pgid) return true;
  }
  return false;
}

/** SIGTERM a process group, SIGKILL what is left after `graceMs`. */
export async function stopGroup(pgid, graceMs) {
  signalGroup(pgid, 'SIGTERM');
  for (let t = 0; t < graceMs && groupExists(pgid); t += 100) await sleep(100);
  signalGroup(pgid, 'SIGKILL');
}

/** A started child process. `exited` resolves (to this) once it ended and its output was read. */
export class Proc {
  done = false;
  code = null;
  signal = null;
  error = null;
  /** Set by stop(): the exit that follows was asked for. */
  stopping = false;

  constructor(name, child, group) {
    this.name = name;
    this.child = child;
    this.pid = child.pid;
    this.group = group;
    this.exited = new Promise((resolve) => {
      const finish = (code, signal) => {
        if (this.done) return;
        Object.assign(this, { done: true, code, signal });
        resolve(this);
      };
      // 'close' comes after 'exit' and after the piped output is read.
      child.on('close', finish);
      child.on('error', (err) => {
        this.error = err.message;
        finish(-1, null);
      });
    });
  }

  /** How it ended, for a log line: `SIGKILL`, `code 1`, or the spawn error. */
  get how() {
    return this.error ?? this.signal ?? `code ${this.code}`;
  }

  /** Sends a signal (to its whole group when it has one); false if there was nobody to get it. */
  send(sig) {
    if (this.done || !this.pid) return false;
    if (this.group) return signalGroup(this.pid, sig);
    try {
      return this.child.kill(sig);
    } catch {
      return false;
    }
  }

  /**
   * Sends `signal` (SIGTERM), SIGKILL after `graceMs` (`onKill` is told), and resolves once it
   * exited; with a group, also ends members left behind by the leader.
   */
  async stop({ signal = 'SIGTERM', graceMs = 10000, onKill } = {}) {
    this.stopping = true;
    if (!this.done) {
      this.send(signal);
      const killer = setTimeout(() => {
        onKill?.();
        this.send('SIGKILL');
      }, graceMs);
      await this.exited;
      clearTimeout(killer);
    }
    if (this.group && this.pid && groupExists(this.pid)) await stopGroup(this.pid, 2000);
    return this;
  }
}

/**
 * Starts `cmd args` with `env` and `cwd`. Its output goes to `logFile` (appended; truncated
 * first with `truncate`), else line by line to `onLine(line, 'stdout' | 'stderr')`, else to our
 * own stdout/stderr with each line prefixed by `prefix`, else straight to ours (inherited).
 * With `group`, it leads a process group of its own, signalled as a whole so its children go
 * too; only for a parent that always stops it (a terminal's Ctrl-C no longer reaches it).
 */
export function launch(name, cmd, args, opts = {}) {
  const { env, cwd, logFile, truncate, onLine, prefix, group = false } = opts;
  let stdio = ['ignore', 'inherit', 'inherit'];
  let fd = null;
  if (logFile) {
    fd = fs.openSync(logFile, truncate ? 'w' : 'a');
    stdio = ['ignore', fd, fd];
  } else if (onLine || prefix) {
    stdio = ['ignore', 'pipe', 'pipe'];
  }
  const child = spawn(cmd, args, { env, cwd, stdio, detached: group });
  if (fd !== null) fs.closeSync(fd);
  const proc = new Proc(name, child, group);
  if (!logFile && (onLine || prefix)) {
    const sink =
      onLine ??
      ((line, stream) =>
        (stream === 'stdout' ? process.stdout : process.stderr).write(`${prefix} ${line}\n`));
    for (const stream of ['stdout', 'stderr']) {
      readline.createInterface({ input: child[stream] }).on('line', (l) => sink(l, stream));
    }
  }
  return proc;
}
