// Tracks every process the stack starts, so that exactly those (and nothing else) get stopped,
// and supervises the long-running ones like a production orchestrator would (systemd's
// Restart=always, an ECS service replacing a dead task).
//
// Each child runs in its own process group (launcher.mjs), and is stopped by signalling that
// group, which also reaches its own children (jest workers, debootstrap, ...).
// Kinds, stopped in this order:
//   task    - one-shot commands (npm ci, go build, jest ...)
//   app     - gateway / worker / haproxy
//   service - redis, ferretdb
//   daemon  - dockerd, only when we started it
// The list is mirrored to .local/run/<lock>.json so a later run can clean up after a run
// that was killed with SIGKILL, so two runs do not share one data directory, and so that
// `stack.mjs restart` (and tests) can see what runs and what a rolling restart did.
import fs from 'node:fs';
import path from 'node:path';
import {
  alive,
  groupExists,
  identity,
  launch,
  signalGroup,
  sleep,
  stopGroup,
} from './launcher.mjs';
import { StackError, dirs, log, mkdirp, paint } from './util.mjs';

export { alive };

const STOP_ORDER = [['task', 'app'], ['service'], ['daemon']];
const GRACE_MS = 10000;
/** A restart storm: this many unexpected exits of one process within STORM_WINDOW_MS. */
export const STORM_EXITS = 5;
export const STORM_WINDOW_MS = 60_000;
/** Wait before a restart: 0.5 s after the first exit, doubling with each recent one, at most 8 s. */
const BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8000;

const running = (pid, id) => alive(pid) && identity(pid) === id;

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * One named process of the stack, across restarts: `proc` is its current incarnation. With
 * `restart`, an exit nobody asked for starts it again after a backoff, until a restart storm.
 */
export class Unit {
  exits = [];
  gaveUp = false;
  restarts = 0;

  constructor(sup, name, cmd, args, opts) {
    Object.assign(this, { sup, name, cmd, args, opts, kind: opts.kind });
    this.start();
  }

  get pid() {
    return this.proc.pid;
  }
  get done() {
    return this.proc.done;
  }
  get code() {
    return this.proc.code;
  }
  get signal() {
    return this.proc.signal;
  }
  get exited() {
    return this.proc.exited;
  }

  start() {
    const { env, cwd, logFile, prefix } = this.opts;
    const proc = launch(this.name, this.cmd, this.args, { env, cwd, logFile, prefix, group: true });
    this.proc = proc;
    void proc.exited.then(() => {
      if (proc.error) log(`${this.name}: ${proc.error}`);
      this.sup.save();
      if (this.kind === 'task' || proc.stopping || this.sup.stopping || this.proc !== proc) return;
      void this.unexpected(proc);
    });
    if (proc.pid) this.sup.save();
    return proc;
  }

  async unexpected(proc) {
    const why = `${proc.name} (pid ${proc.pid}) exited unexpectedly (${proc.how})`;
    if (!this.opts.restart) {
      log(paint('31', why));
      this.sup.onUnexpectedExit?.(this);
      return;
    }
    const now = Date.now();
    this.exits = this.exits.filter((t) => now - t < STORM_WINDOW_MS).concat(now);
    if (this.exits.length >= STORM_EXITS) {
      this.gaveUp = true;
      log(
        paint(
          '31',
          `${why}: restart storm, ${this.exits.length} exits within ${STORM_WINDOW_MS / 1000} s; ` +
            `not starting it again (everything else keeps running; \`stack.mjs restart\` tries again)`,
        ),
      );
      this.sup.save();
      this.sup.onGiveUp?.(this);
      return;
    }
    const delay = Math.min(BACKOFF_MS * 2 ** (this.exits.length - 1), MAX_BACKOFF_MS);
    log(paint('33', `${why}; starting it again in ${delay / 1000} s`));
    if (proc.pid && groupExists(proc.pid)) await stopGroup(proc.pid, 2000);
    await sleep(delay);
    if (this.sup.stopping || this.proc !== proc) return;
    this.restarts++;
    const again = this.start();
    log(`${this.name}: started again, pid ${again.pid}`);
    this.sup.onRestart?.(this);
  }

  /**
   * A restart that was asked for (a rolling restart): stops the current process (SIGTERM, then
   * SIGKILL after `graceMs`) and starts a new one. Also revives a unit that gave up.
   */
  async replace(graceMs = GRACE_MS) {
    await this.stop(graceMs);
    if (this.sup.stopping) return false;
    this.exits = [];
    this.gaveUp = false;
    this.start();
    return true;
  }

  async stop(graceMs = GRACE_MS) {
    const p = this.proc;
    const wasRunning = !p.done;
    await p.stop({
      graceMs,
      onKill: () =>
        log(`${this.name} (pid ${p.pid}) did not stop within ${graceMs / 1000}s: SIGKILL`),
    });
    if (wasRunning) log(`stopped ${this.name} (pid ${p.pid})`);
  }
}

export class Supervisor {
  constructor(lockName, mode) {
    this.mode = mode;
    this.units = [];
    this.stopping = false;
    this.onUnexpectedExit = null;
    this.onGiveUp = null;
    this.onRestart = null;
    /** Extra fields mirrored into the state file (e.g. the rolling restart's progress). */
    this.status = {};
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
    const procs = this.units
      .filter((u) => !u.done && u.pid)
      .map((u) => ({ name: u.name, kind: u.kind, pid: u.pid, id: identity(u.pid) }));
    const units = Object.fromEntries(
      this.units
        .filter((u) => u.opts.restart)
        .map((u) => [u.name, { restarts: u.restarts, gaveUp: u.gaveUp }]),
    );
    const owner = { owner: process.pid, ownerId: identity(process.pid), mode: this.mode };
    const state = { ...owner, ...this.status, procs, units };
    const tmp = `${this.stateFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(state, null, 2));
    fs.renameSync(tmp, this.stateFile); // readers never see half a file
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
   * Starts a tracked process (a Unit). Output: `logFile` (appended), `prefix` (lines prefixed on
   * our stdout/stderr) or inherited. With `restart`, a process that exits while we are not
   * stopping is started again with a backoff, instead of ending the stack (see Unit).
   */
  spawn(name, cmd, args, opts = {}) {
    if (this.stopping) throw new StackError(`not starting ${name}: stopping`);
    const unit = new Unit(this, name, cmd, args, opts);
    this.units.push(unit);
    this.save();
    return unit;
  }

  /** The unit named `name`, or undefined. */
  unit(name) {
    return this.units.find((u) => u.name === name);
  }

  /** Runs a one-shot command to completion; resolves to its exit code. */
  async run(name, cmd, args, opts = {}) {
    const p = this.spawn(name, cmd, args, { ...opts, kind: 'task' });
    await p.exited;
    this.units = this.units.filter((u) => u !== p);
    return p.signal ? 128 : p.code;
  }

  /** Stops everything we started, in order. Safe to call more than once. */
  stopAll() {
    this.stopAllPromise ??= (async () => {
      this.stopping = true;
      for (const kinds of STOP_ORDER) {
        const batch = this.units.filter((u) => kinds.includes(u.kind) && !u.done && u.pid);
        if (kinds.includes('daemon') && batch.length && this.otherOwners().length) {
          const others = this.otherOwners().join(', ');
          for (const u of batch) log(`leaving ${u.name} running: in use by stack pid ${others}`);
          continue;
        }
        await Promise.all(batch.map((u) => u.stop()));
      }
      if (this.acquired) fs.rmSync(this.stateFile, { force: true });
    })();
    return this.stopAllPromise;
  }

  /** Last resort from process.on('exit'): synchronous, so no waiting on events. */
  stopAllSync() {
    const keepDaemon = this.otherOwners().length > 0;
    const left = this.units.filter((u) => u.pid && !u.done && !(keepDaemon && u.kind === 'daemon'));
    for (const u of left) signalGroup(u.pid, 'SIGTERM');
    for (let t = 0; t < 3000 && left.some((u) => alive(u.pid)); t += 50) sleepSync(50);
    for (const u of left) {
      signalGroup(u.pid, 'SIGKILL');
      console.log(`[stack] stopped ${u.name} (pid ${u.pid})`);
    }
    if (this.acquired) fs.rmSync(this.stateFile, { force: true });
  }
}
