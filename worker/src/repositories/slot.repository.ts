import { randomInt, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Inject, Injectable } from '@nestjs/common';
import Docker from 'dockerode';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';
import {
  CgroupV1Counters,
  CgroupV2Counters,
  cgroupV2OfPid,
  cgroupVersion,
  type CgroupCounters,
} from './cgroup-counters.js';
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
import { SLOT_SOCKET_IN_CONTAINER } from './slot-socket.js';

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

/** Same naming as DockerRepository's per-sandbox parents, so its removal cleans them up too. */
const CGROUP_PARENT_DIR = 'coderoom';

/**
 * The slot tier's containers (sandbox/slot/README.md): long-lived, unprivileged, one run at a time,
 * each run in a fresh bubblewrap sandbox built by the supervisor inside. Settings are today's
 * sandbox settings (DockerRepository.create) except where bubblewrap needs otherwise, each said
 * below. A slot's only I/O with the host is its attach stream and, with SANDBOX_SLOT_SOCKETS, one
 * unix socket of its own for the frames.
 */
@Injectable()
export class SlotRepository {
  private readonly docker: Docker;
  private readonly seccomp: string;
  readonly supervisor: Buffer;
  private unified: Promise<boolean> | null = null;
  private readonly appArmor: string;

  constructor(
    @Inject(WORKER_CONFIG) config: WorkerConfig,
    private readonly containers: DockerRepository,
  ) {
    this.docker = new Docker({ socketPath: config.dockerSocket });
    this.appArmor = config.slotAppArmor;
    const tiers = [config.tier, ...Object.values(config.tierByLanguage)];
    const used = tiers.includes('slot');
    // Read at start only where the tier is used: a missing file stops such a worker at once.
    this.seccomp = used
      ? `seccomp=${loadSeccompProfile(config.slotSeccompProfile, 'SANDBOX_SLOT_SECCOMP')}`
      : '';
    this.supervisor = used ? readSupervisor(config.slotSupervisor) : Buffer.alloc(0);
  }

  /**
   * A slot container, created and not started (attach and wait first, like any sandbox). With
   * `socket` (a SlotSocket's path), that socket alone is bound into it and its supervisor sends
   * and takes the frames there.
   */
  async create(spec: SandboxSpec, socket?: string): Promise<{ id: string; cgroup: string | null }> {
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
      SecurityOpt: [
        'no-new-privileges',
        this.seccomp,
        // AppArmor hosts: a profile that lets bwrap mount (sandbox/slot/apparmor/coderoom-slot).
        ...(this.appArmor ? [`apparmor=${this.appArmor}`] : []),
      ],
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
      // Read-only: connecting needs no write access to the mount, and nothing can be made there.
      ...(socket ? { Binds: [`${socket}:${SLOT_SOCKET_IN_CONTAINER}:ro`] } : {}),
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
    const settings = JSON.stringify({
      cpuSeconds: spec.cpuSeconds,
      shmBytes: SHM_BYTES,
      ...(socket ? { socket: SLOT_SOCKET_IN_CONTAINER } : {}),
    });
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

  /**
   * The counters of a started slot's cgroup (its run's CPU time, peak memory, OOM kills), or null
   * where they cannot be read. cgroup v1 with the cgroupfs driver: the parent cgroup `create` gave
   * it. cgroup v2 (any cgroup driver): the container's own cgroup, found from its init process
   * (the worker must see the host's /proc and /sys/fs/cgroup, as root).
   */
  async counters(id: string, cgroup: string | null): Promise<CgroupCounters | null> {
    if (cgroup) return new CgroupV1Counters(cgroup);
    if (!(await this.unifiedCgroups())) return null;
    try {
      const info = await this.docker.getContainer(id).inspect();
      const path = info.State.Pid > 0 ? cgroupV2OfPid(info.State.Pid) : null;
      return path ? new CgroupV2Counters(path) : null;
    } catch {
      return null;
    }
  }

  /** Whether Docker and this process both see cgroup v2 (and runc, which slots use). */
  private unifiedCgroups(): Promise<boolean> {
    this.unified ??= (async () => {
      try {
        const info = (await this.docker.info()) as { CgroupVersion?: string };
        return info.CgroupVersion === '2' && cgroupVersion() === 2;
      } catch {
        return false;
      }
    })();
    return this.unified;
  }
}

function readSupervisor(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`SANDBOX_SLOT_SUPERVISOR: cannot read ${file}: ${String(err)}`);
  }
}
