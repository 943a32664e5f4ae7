import { randomInt, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import Docker from 'dockerode';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';
import {
  DockerRepository,
  LABEL_SCOPE,
  SANDBOX_OOM_SCORE_ADJ,
  SANDBOX_UID_MIN,
  SANDBOX_UID_SPAN,
  SHM_BYTES,
  TMPFS_INODES,
  loadSeccompProfile,
  type SandboxSpec,
} from './docker.repository.js';

/**
 * Processes of a slot besides the run's own: docker-init, the supervisor, bwrap and bwrap's init
 * in the run's PID namespace. The container's pids limit is the run's plus these, so a program
 * may start as many processes as in a container of its own.
 */
export const SLOT_EXTRA_PIDS = 3;

/**
 * Reads the supervisor's source from stdin (a byte count, a newline, the source) and runs it:
 * the supervisor comes from the worker, never from the image (sandbox/slot/supervisor.py).
 */
const BOOT = [
  'import os',
  'def r(n):',
  "    b = b''",
  '    while len(b) < n:',
  '        c = os.read(0, n - len(b))',
  '        if not c: raise SystemExit(4)',
  '        b += c',
  '    return b',
  "h = b''",
  "while not h.endswith(b'\\n'): h += r(1)",
  "exec(compile(r(int(h)), 'supervisor.py', 'exec'))",
].join('\n');

const CGROUP_ROOT = '/sys/fs/cgroup';
/** Same naming as DockerRepository's per-sandbox parents, so its removal cleans them up too. */
const CGROUP_PARENT_DIR = 'coderoom';

/**
 * The slot tier's containers (sandbox/slot/README.md): long-lived, unprivileged, one run at a time,
 * each run in a fresh bubblewrap sandbox built by the supervisor inside. Settings are today's
 * sandbox settings (DockerRepository.create) except where bubblewrap needs otherwise, each said
 * below. Like every sandbox, a slot's only I/O with the host is its attach stream.
 */
@Injectable()
export class SlotRepository {
  private readonly docker: Docker;
  private readonly seccomp: string;
  readonly supervisor: Buffer;

  constructor(
    @Inject(WORKER_CONFIG) config: WorkerConfig,
    private readonly containers: DockerRepository,
  ) {
    this.docker = new Docker({ socketPath: config.dockerSocket });
    const tiers = [config.tier, ...Object.values(config.tierByLanguage)];
    const used = tiers.includes('slot');
    // Read at start only where the tier is used: a missing file stops such a worker at once.
    this.seccomp = used
      ? `seccomp=${loadSeccompProfile(config.slotSeccompProfile, 'SANDBOX_SLOT_SECCOMP')}`
      : '';
    this.supervisor = used ? readSupervisor(config.slotSupervisor) : Buffer.alloc(0);
  }

  /** A slot container, created and not started (attach and wait first, like any sandbox). */
  async create(spec: SandboxSpec): Promise<{ id: string; cgroup: string | null }> {
    const memory = spec.memoryMb * 1024 * 1024;
    const fileBytes = spec.fileSizeMb * 1024 * 1024;
    const uid = SANDBOX_UID_MIN + randomInt(SANDBOX_UID_SPAN);
    const parent = (await this.containers.peakCgroupsUsed())
      ? `/${CGROUP_PARENT_DIR}/${randomUUID()}`
      : undefined;
    const tmpfs = `rw,exec,nosuid,nodev,size=${spec.tmpfsMb}m,nr_inodes=${TMPFS_INODES},uid=${uid},gid=${uid}`;
    const hostConfig: Docker.HostConfig & { CgroupnsMode: 'private' } = {
      NetworkMode: 'none',
      Memory: memory,
      MemorySwap: memory,
      NanoCpus: Math.round(spec.cpus * 1e9),
      PidsLimit: spec.pids + SLOT_EXTRA_PIDS,
      ReadonlyRootfs: true,
      Tmpfs: {
        // The run's /box and /tmp (bound there by bwrap), with today's size and inode caps; the
        // supervisor empties them after every run and gives up the slot if it cannot.
        '/slot/box': `${tmpfs},mode=0700`,
        '/slot/tmp': `${tmpfs},mode=1777`,
        // bwrap's own scratch space (its new root is built on a tmpfs mounted here).
        '/tmp': 'rw,noexec,nosuid,nodev,size=1m,nr_inodes=64,mode=1777',
      },
      ShmSize: SHM_BYTES,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges', this.seccomp],
      // Docker's masked and read-only /proc paths make the kernel refuse a fresh procfs mount
      // (it must not reveal more than the one it would cover): none (what the CLI's
      // `--security-opt systempaths=unconfined` sends), so bwrap can give each run its own /proc,
      // where the supervisor masks the same paths again and mounts it read-only.
      MaskedPaths: [],
      ReadonlyPaths: [],
      LogConfig: { Type: 'none', Config: {} },
      Init: true,
      IpcMode: 'private',
      CgroupnsMode: 'private',
      ...(parent ? { CgroupParent: parent } : {}),
      OomScoreAdj: SANDBOX_OOM_SCORE_ADJ,
      // No RLIMIT_CPU here: it would end the long-lived supervisor; it sets it for each run.
      Ulimits: [
        { Name: 'nofile', Soft: spec.openFiles, Hard: spec.openFiles },
        { Name: 'fsize', Soft: fileBytes, Hard: fileBytes },
        { Name: 'core', Soft: 0, Hard: 0 },
      ],
      // User namespaces in runc only: a slot under gVisor would gain nothing.
      Runtime: 'runc',
      AutoRemove: false,
    };
    const settings = JSON.stringify({ cpuSeconds: spec.cpuSeconds, shmBytes: SHM_BYTES });
    const container = await this.docker.createContainer({
      Image: spec.image,
      User: `${uid}:${uid}`,
      WorkingDir: '/box',
      Env: [],
      Entrypoint: ['/usr/bin/python3', '-I', '-S', '-c', BOOT, settings],
      Labels: { ...spec.labels, [LABEL_SCOPE]: this.containers.scope },
      NetworkDisabled: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      OpenStdin: true,
      // The worker's attach ends (a crash): the supervisor reads the end of stdin and exits.
      StdinOnce: true,
      Tty: false,
      HostConfig: hostConfig,
    });
    return { id: container.id, cgroup: parent ? `${parent}/${container.id}` : null };
  }

  /** CPU time of everything in the slot so far, in ms (cpuacct), or null. */
  cpuMs(cgroup: string | null): number | null {
    const ns = readNumber(cgroup, 'cpuacct', 'cpuacct.usage');
    return ns === null ? null : ns / 1e6;
  }

  /** The slot's memory high-water mark in KiB since the last `resetPeak`, or null. */
  peakKb(cgroup: string | null): number | null {
    const bytes = readNumber(cgroup, 'memory', 'memory.max_usage_in_bytes');
    return bytes !== null && bytes > 0 ? Math.ceil(bytes / 1024) : null;
  }

  /** Starts a new high-water mark (cgroup v1: writing to it sets it to the current usage). */
  resetPeak(cgroup: string | null): void {
    if (!cgroup) return;
    try {
      writeFileSync(join(CGROUP_ROOT, 'memory', cgroup, 'memory.max_usage_in_bytes'), '0');
    } catch {
      // gone (the slot died): its run ends anyway
    }
  }

  /** How many times the OOM killer struck in the slot (memory.oom_control's oom_kill), or null. */
  oomKills(cgroup: string | null): number | null {
    if (!cgroup) return null;
    try {
      const text = readFileSync(join(CGROUP_ROOT, 'memory', cgroup, 'memory.oom_control'), 'utf8');
      const m = /^oom_kill (\d+)$/m.exec(text);
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  }
}

function readNumber(cgroup: string | null, hierarchy: string, file: string): number | null {
  if (!cgroup) return null;
  try {
    const n = Number(readFileSync(join(CGROUP_ROOT, hierarchy, cgroup, file), 'utf8').trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : null;
  } catch {
    return null;
  }
}

function readSupervisor(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`SANDBOX_SLOT_SUPERVISOR: cannot read ${file}: ${String(err)}`);
  }
}
