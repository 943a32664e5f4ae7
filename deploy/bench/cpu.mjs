// CPU by process during a benchmark cell, read from /proc (Linux only): a snapshot before and
// after, grouped into the parts of the system (gateway, worker, Redis, FerretDB, Docker's
// daemons, the sandboxes, the benchmark client). A process's time includes the time of the
// children it reaped (cutime/cstime); the containers (sandboxes) are counted by their cgroups'
// CPU accounting, which keeps the time of exited processes and removed containers. What no
// part accounts for (runc, exited processes nobody reaped into one we see, the kernel's own
// threads) is "other": the machine's total from /proc/stat minus the parts.
import { readFileSync, readdirSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/**
 * [CPU ms, comm, cmdline] of one pid, or null if it is gone: utime+stime, plus cutime+cstime
 * (the children it reaped) except for containerd's shims, whose children are the containers
 * (counted by their cgroups) and runc.
 */
function proc(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    // Fields after the comm start at 3 (state): utime 14, stime 15, cutime 16, cstime 17.
    const fields = comm.startsWith('containerd-shim') ? [11, 12] : [11, 12, 13, 14];
    const ticks = fields.reduce((s, i) => s + Number(f[i]), 0);
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return [ticks * TICK_MS, comm, cmd];
  } catch {
    return null;
  }
}

/**
 * True if the process runs in a container: its cgroup is a container's (`/docker/<id>`, or
 * `docker-<id>.scope` with the systemd driver) or under a Coderoom parent (`/coderoom/...`),
 * not dockerd's own `docker.service`.
 */
function inContainer(pid) {
  try {
    return /\/docker\/[0-9a-f]{12}|docker-[0-9a-f]{12}[0-9a-f]*\.scope|\/coderoom\//.test(
      readFileSync(`/proc/${pid}/cgroup`, 'utf8'),
    );
  } catch {
    return false;
  }
}

/** The part of the system a process belongs to. */
function part(comm, cmd, self) {
  if (self) return 'benchmark client';
  if (cmd.includes('server/dist/src/main.js')) return 'gateway';
  if (cmd.includes('worker/dist/src/main.js')) return 'worker';
  if (comm.startsWith('redis')) return 'Redis';
  if (comm.startsWith('ferretdb')) return 'FerretDB';
  if (comm === 'dockerd') return 'dockerd';
  if (comm.startsWith('containerd') || comm === 'runc' || comm === 'docker-init') {
    return 'containerd, shims, runc';
  }
  return null;
}

function machineMs() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1, 9);
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const n = cpu.map(Number);
  return (n[0] + n[1] + n[2] + n[5] + n[6] + n[7]) * TICK_MS;
}

/** CPU ms of every container since boot: cpuacct of Docker's and Coderoom's cgroup parents. */
function containersMs() {
  let ns = 0;
  for (const dir of ['docker', 'coderoom']) {
    for (const root of ['/sys/fs/cgroup/cpuacct', '/sys/fs/cgroup/cpu,cpuacct']) {
      try {
        ns += Number(readFileSync(`${root}/${dir}/cpuacct.usage`, 'utf8'));
        break;
      } catch {
        // not this layout
      }
    }
    try {
      const stat = readFileSync(`/sys/fs/cgroup/${dir}/cpu.stat`, 'utf8'); // cgroup v2
      ns += Number(/usage_usec (\d+)/.exec(stat)?.[1] ?? 0) * 1000;
    } catch {
      // not cgroup v2
    }
  }
  return ns / 1e6;
}

function snapshot() {
  const pids = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || inContainer(d)) continue;
    const p = proc(d);
    if (p) pids.set(d, p);
  }
  return { pids, machine: machineMs(), containers: containersMs() };
}

/** Starts measuring; `end()` returns { ms by part, busy ms of the machine }. */
export function cpuMeter() {
  const before = snapshot();
  return {
    end() {
      const after = snapshot();
      const parts = new Map();
      let counted = 0;
      for (const [pid, [ms, comm, cmd]] of after.pids) {
        const name = part(comm, cmd, Number(pid) === process.pid);
        if (!name) continue;
        const prior = before.pids.get(pid);
        const used = ms - (prior && prior[2] === cmd ? prior[0] : 0);
        parts.set(name, (parts.get(name) ?? 0) + used);
        counted += used;
      }
      const sandboxes = after.containers - before.containers;
      parts.set('sandboxes (their containers: supervisor, bwrap, the program)', sandboxes);
      counted += sandboxes;
      const busy = after.machine - before.machine;
      parts.set('other (runc, kernel, exited processes)', Math.max(0, busy - counted));
      return { parts, busy };
    },
  };
}

/** Markdown rows "| part | ms per run |" for `runs` runs, largest first, and the total. */
export function cpuRows({ parts, busy }, runs) {
  const per = (ms) => (runs ? (ms / runs).toFixed(1) : '-');
  return [
    ...[...parts].sort((a, b) => b[1] - a[1]).map(([name, ms]) => `| ${name} | ${per(ms)} |`),
    `| **the machine, busy** | **${per(busy)}** |`,
  ];
}

/** Markdown rows "| part | % of a core |" over `seconds`, largest first, and the total. */
export function cpuShareRows({ parts, busy }, seconds) {
  const share = (ms) => `${((ms / (seconds * 1000)) * 100).toFixed(0)}%`;
  return [
    ...[...parts].sort((a, b) => b[1] - a[1]).map(([name, ms]) => `| ${name} | ${share(ms)} |`),
    `| **the machine, busy** | **${share(busy)}** |`,
  ];
}
