import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CgroupV1Counters,
  CgroupV2Counters,
  cgroupV2OfPid,
  cgroupVersion,
} from './cgroup-counters.js';

// The counters' arithmetic and parsing, on directories laid out like the kernel's cgroup file
// systems. The real files are read through the slot tier on this machine (cgroup v1:
// server/test/slot.e2e.spec.ts, memoryKb and MLE); cgroup v2 could not be tried here.
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cgroup-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function put(path: string, text: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}

describe('cgroupVersion', () => {
  it('tells the unified hierarchy from per-controller ones, and neither', () => {
    expect(cgroupVersion(root)).toBeNull();
    mkdirSync(join(root, 'memory'));
    mkdirSync(join(root, 'cpuacct'));
    expect(cgroupVersion(root)).toBe(1);
    put('cgroup.controllers', 'cpu memory pids\n');
    expect(cgroupVersion(root)).toBe(2);
  });
});

describe('CgroupV1Counters', () => {
  const group = '/coderoom/1f0c/abc';
  it('reads CPU time, the high-water mark and OOM kills from their hierarchies', () => {
    put(`cpuacct${group}/cpuacct.usage`, '123456789\n');
    put(`memory${group}/memory.max_usage_in_bytes`, '4194305\n');
    put(`memory${group}/memory.oom_control`, 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    const c = new CgroupV1Counters(group, root);
    expect(c.cpuMs()).toBeCloseTo(123.456789, 6);
    expect(c.peakKb()).toBe(4097);
    expect(c.oomKills()).toBe(2);
  });

  it('resets the high-water mark by writing 0 to it', () => {
    put(`memory${group}/memory.max_usage_in_bytes`, '4194304\n');
    const c = new CgroupV1Counters(group, root);
    expect(c.resetPeak()).toBe(true);
    expect(readFileSync(join(root, `memory${group}/memory.max_usage_in_bytes`), 'utf8')).toBe('0');
  });

  it('answers null, never a made-up number, for missing or garbled files', () => {
    const c = new CgroupV1Counters(group, root);
    expect([c.cpuMs(), c.peakKb(), c.oomKills(), c.resetPeak()]).toEqual([null, null, null, false]);
    put(`cpuacct${group}/cpuacct.usage`, 'max\n');
    put(`memory${group}/memory.max_usage_in_bytes`, '0\n');
    put(`memory${group}/memory.oom_control`, 'under_oom 0\n');
    expect([c.cpuMs(), c.peakKb(), c.oomKills()]).toEqual([null, null, null]);
  });
});

describe('CgroupV2Counters', () => {
  const group = '/system.slice/docker-abc.scope';
  it('reads cpu.stat usage_usec and memory.events oom_kill', () => {
    put(`${group}/cpu.stat`, 'usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n');
    put(`${group}/memory.events`, 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n');
    const c = new CgroupV2Counters(group, root);
    expect(c.cpuMs()).toBe(2.5);
    expect(c.oomKills()).toBe(1);
  });

  it('has no peak for a run until it was reset, then reads it through the descriptor of the reset', () => {
    put(`${group}/memory.peak`, '8388608\n');
    const c = new CgroupV2Counters(group, root);
    // Before a reset memory.peak is the container's lifetime mark, not a run's.
    expect(c.peakKb()).toBeNull();
    expect(c.resetPeak()).toBe(true);
    expect(readFileSync(join(root, `${group}/memory.peak`), 'utf8')).toMatch(/^reset\n/);
    // The kernel answers that descriptor with the mark since the reset; a file stands in here.
    writeFileSync(join(root, `${group}/memory.peak`), '1048576\n');
    expect(c.peakKb()).toBe(1024);
    c.close();
    expect(c.peakKb()).toBeNull();
  });

  it('cannot reset where memory.peak is missing (or read-only, before Linux 6.12)', () => {
    const c = new CgroupV2Counters(group, root);
    expect(c.resetPeak()).toBe(false);
    expect(c.peakKb()).toBeNull();
    expect([c.cpuMs(), c.oomKills()]).toEqual([null, null]);
  });
});

describe('cgroupV2OfPid', () => {
  it("takes the unified hierarchy's line of /proc/<pid>/cgroup", () => {
    put('proc/42/cgroup', '0::/system.slice/docker-abc.scope\n');
    expect(cgroupV2OfPid(42, join(root, 'proc'))).toBe('/system.slice/docker-abc.scope');
  });

  it('refuses v1-only processes, paths outside our cgroup namespace and gone processes', () => {
    put('proc/1/cgroup', '4:memory:/coderoom/x\n1:name=systemd:/\n');
    put('proc/2/cgroup', '0::/../../docker-abc.scope\n');
    expect(cgroupV2OfPid(1, join(root, 'proc'))).toBeNull();
    expect(cgroupV2OfPid(2, join(root, 'proc'))).toBeNull();
    expect(cgroupV2OfPid(3, join(root, 'proc'))).toBeNull();
  });
});
