import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/** Where the host's cgroup file systems are mounted. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * The counters of one cgroup that the worker reads for a run: CPU time, the memory high-water
 * mark and OOM kills. A slot container holds one run at a time, so its cgroup's counters are the
 * run's (sandbox/slot/README.md, "Per-run limits and accounting"). Every read is synchronous: a
 * cgroup file is a few bytes the kernel formats on the spot (tens of µs), cheaper than the
 * thread-pool round trips of an asynchronous read. Every method answers null (or false) where the
 * counter cannot be read (the cgroup is gone, a file is missing): the run then goes without it.
 */
export interface CgroupCounters {
  /** CPU time of everything in the cgroup so far, in ms. */
  cpuMs(): number | null;
  /** The memory high-water mark in KiB since the last `resetPeak` (null after a failed one). */
  peakKb(): number | null;
  /** Starts a new high-water mark at the current usage; false where that cannot be done. */
  resetPeak(): boolean;
  /** How many times the OOM killer struck in the cgroup. */
  oomKills(): number | null;
  /** Gives back what it holds open. */
  close(): void;
}

/**
 * cgroup v1 (this machine): one hierarchy per controller, `<root>/<controller>/<group>`.
 * `memory.max_usage_in_bytes` is reset by writing to it; `memory.oom_control` counts OOM kills.
 */
export class CgroupV1Counters implements CgroupCounters {
  constructor(
    private readonly group: string,
    private readonly root = CGROUP_ROOT,
  ) {}

  cpuMs(): number | null {
    const ns = readNumber(this.file('cpuacct', 'cpuacct.usage'));
    return ns === null ? null : ns / 1e6;
  }

  peakKb(): number | null {
    const bytes = readNumber(this.file('memory', 'memory.max_usage_in_bytes'));
    return bytes !== null && bytes > 0 ? Math.ceil(bytes / 1024) : null;
  }

  resetPeak(): boolean {
    try {
      writeFileSync(this.file('memory', 'memory.max_usage_in_bytes'), '0');
      return true;
    } catch {
      return false; // gone (the slot died): its run ends anyway
    }
  }

  oomKills(): number | null {
    return readKey(this.file('memory', 'memory.oom_control'), 'oom_kill');
  }

  close(): void {}

  private file(controller: string, name: string): string {
    return join(this.root, controller, this.group, name);
  }
}

/**
 * cgroup v2 (the unified hierarchy, `<root>/<group>`): `cpu.stat` `usage_usec`, `memory.events`
 * `oom_kill` (hierarchical), and `memory.peak`, which since Linux 6.12 is reset by writing to it,
 * for reads through *the same open file* only: the reset and every later read of a run go through
 * one descriptor, opened by `resetPeak`. On older kernels `memory.peak` cannot be written and holds
 * the whole container's high-water mark, not one run's: then `peakKb` is null (no number rather
 * than a wrong one).
 */
export class CgroupV2Counters implements CgroupCounters {
  private peakFd: number | null = null;

  constructor(
    private readonly group: string,
    private readonly root = CGROUP_ROOT,
  ) {}

  cpuMs(): number | null {
    const us = readKey(this.file('cpu.stat'), 'usage_usec');
    return us === null ? null : us / 1e3;
  }

  peakKb(): number | null {
    if (this.peakFd === null) return null;
    try {
      const buf = Buffer.alloc(64);
      const n = readSync(this.peakFd, buf, 0, buf.length, 0);
      const bytes = parseCount(buf.toString('ascii', 0, n));
      return bytes !== null && bytes > 0 ? Math.ceil(bytes / 1024) : null;
    } catch {
      return null;
    }
  }

  resetPeak(): boolean {
    this.closePeak();
    try {
      const fd = openSync(this.file('memory.peak'), 'r+');
      try {
        writeSync(fd, 'reset\n');
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      this.peakFd = fd;
      return true;
    } catch {
      return false;
    }
  }

  oomKills(): number | null {
    return readKey(this.file('memory.events'), 'oom_kill');
  }

  close(): void {
    this.closePeak();
  }

  private closePeak(): void {
    if (this.peakFd === null) return;
    try {
      closeSync(this.peakFd);
    } catch {
      // closed already
    }
    this.peakFd = null;
  }

  private file(name: string): string {
    return join(this.root, this.group, name);
  }
}

/** 2 on the unified hierarchy, 1 with per-controller hierarchies, null where neither is found. */
export function cgroupVersion(root = CGROUP_ROOT): 1 | 2 | null {
  if (existsSync(join(root, 'cgroup.controllers'))) return 2;
  if (existsSync(join(root, 'memory')) && existsSync(join(root, 'cpuacct'))) return 1;
  return null;
}

/**
 * A process's cgroup on the unified hierarchy (the `0::<path>` line of /proc/<pid>/cgroup), as
 * seen from our cgroup namespace: the host's path when the worker runs in the host's. Null when
 * the process is gone or is not in a v2 cgroup.
 */
export function cgroupV2OfPid(pid: number, proc = '/proc'): string | null {
  try {
    const line = readFileSync(join(proc, String(pid), 'cgroup'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    const path = line?.slice(3);
    // A path above our namespace's root shows as `/..`: not one we could open.
    return path && path.startsWith('/') && !path.split('/').includes('..') ? path : null;
  } catch {
    return null;
  }
}

function readNumber(file: string): number | null {
  try {
    return parseCount(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** The number after `key` on its own line (`key 123`), as in cpu.stat or memory.events. */
function readKey(file: string, key: string): number | null {
  try {
    const text = readFileSync(file, 'utf8');
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
    return m ? parseCount(m[1]) : null;
  } catch {
    return null;
  }
}

function parseCount(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}
