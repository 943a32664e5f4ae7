import { createHash, randomInt, randomUUID } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { access, readdir, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Duplex } from 'node:stream';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import Docker from 'dockerode';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';

export interface SandboxSpec {
  image: string;
  labels: Record<string, string>;
  memoryMb: number;
  cpus: number;
  pids: number;
  tmpfsMb: number;
  /** RLIMIT_FSIZE, in MiB. */
  fileSizeMb: number;
  /** RLIMIT_NOFILE. */
  openFiles: number;
  /** RLIMIT_CPU of every process in the sandbox, in seconds (SIGXCPU, then SIGKILL 1 s later). */
  cpuSeconds: number;
}

/** The attached standard streams of a sandbox, in plain Node types. */
export interface SandboxIo {
  write(data: Buffer | string): void;
  closeStdin(): void;
  onStdout(cb: (data: Buffer) => void): void;
  onStderr(cb: (data: Buffer) => void): void;
  /** Resolves when Docker has closed the output streams (all output delivered). */
  ended: Promise<void>;
}

/**
 * Each sandbox runs as its own uid (and gid of the same number), drawn at random from
 * [SANDBOX_UID_MIN, SANDBOX_UID_MIN + SANDBOX_UID_SPAN): the kernel keeps some budgets per uid,
 * host-wide (inotify instances and watches, pipe buffer pages, pending signals, POSIX message
 * queue bytes), and with one shared uid a program could exhaust them for every other sandbox
 * running at the same time. Far above any host account (below 2^20) and below 2^31 (tools
 * that treat a uid as signed). Two live sandboxes on a host draw the same uid with probability
 * ~n^2 / 2^31 (n sandboxes), and then only share those budgets again: the same uid in another
 * PID namespace and with its own tmpfs still cannot see, signal or touch the other's processes
 * or files. The image's own user (10001, `runner`, home /box) is what `docker run` of an image
 * gets by hand; the programs have HOME=/box from the image and no passwd entry.
 */
export const SANDBOX_UID_MIN = 2 ** 20;
export const SANDBOX_UID_SPAN = 2 ** 30;
export const LABEL_RUN = 'coderoom.run';
export const LABEL_WORKER = 'coderoom.worker';
/**
 * Which deployment (its Redis, database included) a sandbox belongs to: several deployments
 * (a dev stack, the tests) may share one Docker engine, and only the workers of the same one
 * know whether its owner is alive.
 */
export const LABEL_SCOPE = 'coderoom.scope';

/** Inodes per tmpfs: empty files cost no blocks, so `size=` alone does not bound their number. */
export const TMPFS_INODES = 8192;
/** Size of the sandbox's /dev/shm (its own tmpfs, also charged to the memory limit). */
export const SHM_BYTES = 8 * 1024 * 1024;
/**
 * Host pids limit of a gVisor sandbox (the program itself has RLIMIT_NPROC). Debian's runsc
 * (2022, ptrace platform) needs host threads per guest task: a fork bomb held to 64 processes
 * inside used ~3100 host pids here, and 2048 killed the sandbox. See README "gVisor".
 */
const GVISOR_HOST_PIDS = 4096;

/**
 * oom_score_adj of a sandbox: in a host-wide memory shortage the kernel kills a sandbox before the
 * worker, Redis or the database. A process may lower its own score down to the last value a
 * CAP_SYS_RESOURCE process set for it, and Docker's setting is not that (a program could go back
 * to its shim's score, 0 here). So the sandbox's /proc is read-only (READONLY_PATHS): no process
 * in it can write its oom_score_adj at all. See README "Memory pressure on the host".
 */
export const SANDBOX_OOM_SCORE_ADJ = 500;
/**
 * Mounted read-only in the sandbox: all of /proc, which covers Docker's own list (/proc/sys,
 * /proc/sysrq-trigger, /proc/irq, /proc/bus, /proc/fs) that this setting replaces. A program
 * reads /proc as before; it can write none of it: not its oom_score_adj (above), nor
 * /proc/self/mem, comm, timerslack_ns or coredump_filter. Docker's masked paths stay masked.
 */
export const READONLY_PATHS = ['/proc'];

/** The host's cgroup v1 hierarchies (one directory per controller). */
const CGROUP_ROOT = '/sys/fs/cgroup';
/**
 * Every sandbox gets its own parent cgroup `/<CGROUP_PARENT_DIR>/<uuid>` (cgroup v1, cgroupfs
 * driver only). Docker removes the container's own cgroup the moment it exits (even an open file
 * of it then reads ENODEV), but the parent outlives it, and its hierarchical
 * `memory.max_usage_in_bytes` is the sandbox's peak memory. We remove the parent after the
 * container.
 */
const CGROUP_PARENT_DIR = 'coderoom';
const CGROUP_PARENT = new RegExp(`^/${CGROUP_PARENT_DIR}/[0-9a-f-]{36}$`);
/** Empty parent cgroups older than this are leftovers (a run never lasts this long). */
const STALE_CGROUP_MS = 15 * 60 * 1000;

/**
 * Docker, through dockerode: the only place that knows container settings.
 *
 * Nothing here ever reads or writes a file of a container (no `docker cp`, archives, bind mounts
 * or volumes): all I/O with a sandbox is the attach stream (stdin/stdout/stderr). So whatever a
 * program plants in its filesystem (e.g. symlinks to host paths, the Judge0 CVE-2024-28185 class)
 * is never followed by the host. Keep it that way.
 */
@Injectable()
export class DockerRepository implements OnModuleInit {
  private readonly logger = new Logger(DockerRepository.name);
  private readonly docker: Docker;
  /** Whether sandboxes get a parent cgroup of their own (for their peak memory). */
  private peakCgroups: Promise<boolean> | null = null;
  /** Container id -> its parent cgroup (e.g. `/coderoom/<uuid>`). */
  private readonly parents = new Map<string, string>();

  /** This deployment's LABEL_SCOPE value: a hash of its Redis URL (no secret in a label). */
  readonly scope: string;
  /** `seccomp=<profile JSON>` for SecurityOpt: our profile, whatever Docker's own default is. */
  private readonly seccomp: string;

  constructor(@Inject(WORKER_CONFIG) private readonly config: WorkerConfig) {
    this.docker = new Docker({ socketPath: config.dockerSocket });
    this.scope = createHash('sha256').update(config.redisUrl).digest('hex').slice(0, 16);
    this.seccomp = `seccomp=${loadSeccompProfile(config.seccompProfile)}`;
  }

  async onModuleInit(): Promise<void> {
    if (await this.usePeakCgroups()) await this.removeStaleCgroups();
  }

  async ping(): Promise<boolean> {
    try {
      await this.docker.ping();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The images of this engine by name (`repo:tag`), in one call. Throws when Docker does not
   * answer: an engine that is away must not look like one without images.
   */
  async imageNames(): Promise<Set<string>> {
    const images = await this.docker.listImages();
    return new Set(images.flatMap((i) => i.RepoTags ?? []));
  }

  /** A hardened, stopped container whose entrypoint (the runner) will read the run from stdin. */
  async create(spec: SandboxSpec): Promise<string> {
    const memory = spec.memoryMb * 1024 * 1024;
    const fileBytes = spec.fileSizeMb * 1024 * 1024;
    const gvisor = this.config.runtime === 'runsc';
    const uid = SANDBOX_UID_MIN + randomInt(SANDBOX_UID_SPAN);
    const cgroupParent = (await this.usePeakCgroups())
      ? `/${CGROUP_PARENT_DIR}/${randomUUID()}`
      : undefined;
    const hostConfig: Docker.HostConfig & { CgroupnsMode: 'private' } = {
      NetworkMode: 'none',
      Memory: memory,
      MemorySwap: memory, // no swap: an overrun is an OOM kill, reported as MLE
      NanoCpus: Math.round(spec.cpus * 1e9),
      // Processes and threads: fork and thread bombs stop here. Under gVisor the program's
      // processes live inside its user-space kernel: the host's pids limit counts that kernel's
      // own threads (too low a limit kills the sandbox at start, exit 2), and RLIMIT_NPROC,
      // which counts per uid inside the one sandbox, limits the program instead.
      PidsLimit: gvisor ? GVISOR_HOST_PIDS : spec.pids,
      ReadonlyRootfs: true,
      // Memory-backed, per container, charged to its memory limit: filling them never touches
      // the host's disk. nr_inodes bounds the number of (empty) files.
      Tmpfs: {
        '/box': `rw,exec,nosuid,nodev,size=${spec.tmpfsMb}m,nr_inodes=${TMPFS_INODES},uid=${uid},gid=${uid},mode=0700`,
        '/tmp': `rw,exec,nosuid,nodev,size=${spec.tmpfsMb}m,nr_inodes=${TMPFS_INODES},mode=1777`,
      },
      ShmSize: SHM_BYTES,
      CapDrop: ['ALL'],
      // Our own seccomp profile (sandbox/seccomp/): Docker's current default without io_uring
      // and without socket families a program never needs, the same on every Docker version.
      SecurityOpt: ['no-new-privileges', this.seccomp],
      // The default json-file driver copies all output to the host disk (a disk-fill attack).
      LogConfig: { Type: 'none', Config: {} },
      Init: true, // docker-init reaps zombies; when the program exits, everything else dies
      IpcMode: 'private',
      // The program sees its own cgroup as `/`, not our cgroup paths.
      CgroupnsMode: 'private',
      ...(cgroupParent ? { CgroupParent: cgroupParent } : {}),
      // In a host-wide memory shortage, a sandbox goes before the worker, Redis or the database
      // (the program cannot lower it: /proc is read-only, READONLY_PATHS).
      OomScoreAdj: SANDBOX_OOM_SCORE_ADJ,
      ReadonlyPaths: READONLY_PATHS,
      // No nproc under runc: the pids limit does that job, for all processes of the sandbox.
      Ulimits: [
        { Name: 'nofile', Soft: spec.openFiles, Hard: spec.openFiles },
        { Name: 'fsize', Soft: fileBytes, Hard: fileBytes },
        { Name: 'core', Soft: 0, Hard: 0 },
        // Under runc nproc would count per host uid (two sandboxes may draw one): only for gVisor.
        ...(gvisor ? [{ Name: 'nproc', Soft: spec.pids, Hard: spec.pids }] : []),
        // Per process, in whole seconds: a backstop behind the worker's own CPU-time check
        // (cpuUsageMs), which sums all processes and threads and ends a stage at its budget.
        { Name: 'cpu', Soft: spec.cpuSeconds, Hard: spec.cpuSeconds + 1 },
      ],
      Runtime: this.config.runtime,
      AutoRemove: false,
    };
    const container = await this.docker.createContainer({
      Image: spec.image,
      User: `${uid}:${uid}`,
      WorkingDir: '/box',
      Env: [], // nothing of ours: the program can read its own environment (/proc/1/environ)
      Labels: { ...spec.labels, [LABEL_SCOPE]: this.scope },
      NetworkDisabled: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      OpenStdin: true,
      StdinOnce: true,
      Tty: false,
      HostConfig: hostConfig,
    });
    if (cgroupParent) this.parents.set(container.id, cgroupParent);
    return container.id;
  }

  /** Attaches before start so no output is missed; stdout/stderr are demultiplexed here. */
  async attach(id: string): Promise<SandboxIo> {
    const stream = (await this.docker.getContainer(id).attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as Duplex;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    this.docker.modem.demuxStream(stream, stdout, stderr);
    // Writing to a program that already exited fails with EPIPE: that is normal, not a crash.
    stream.on('error', (err: Error) =>
      this.logger.debug(`attach ${id.slice(0, 12)}: ${err.message}`),
    );
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    return {
      write: (data) => {
        if (!stream.destroyed && stream.writable) stream.write(data);
      },
      closeStdin: () => {
        if (!stream.destroyed && stream.writable) stream.end();
      },
      onStdout: (cb) => stdout.on('data', cb),
      onStderr: (cb) => stderr.on('data', cb),
      ended,
    };
  }

  /** Must be called before `start`: resolves with the exit code of the next exit. */
  waitForExit(id: string): Promise<number> {
    const exited = this.docker
      .getContainer(id)
      .wait({ condition: 'next-exit' })
      .then((r: { StatusCode: number }) => r.StatusCode);
    // Not every caller gets to await it (start failed, cancelled first): a Docker error then
    // must not become an unhandled rejection that ends the worker. Awaiting still sees it.
    exited.catch(() => undefined);
    return exited;
  }

  async start(id: string): Promise<void> {
    await this.docker.getContainer(id).start();
  }

  async kill(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).kill({ signal: 'SIGKILL' });
    } catch {
      // already stopped
    }
  }

  /**
   * Whether the kernel's OOM killer struck in the sandbox (Docker's `State.OOMKilled`): the
   * only way to tell an OOM kill from our own SIGKILL, since both exit 137. (Not from the parent
   * cgroup, which would save the request: its `memory.oom_control` oom_kill stayed 0 when the
   * container's cgroup below it had an OOM kill, tried on kernel 6.18, and the container's own
   * cgroup is gone when the exit is reported.)
   */
  async oomKilled(id: string): Promise<boolean> {
    const info = await this.docker.getContainer(id).inspect();
    return info.State.OOMKilled === true;
  }

  /**
   * Peak memory of the sandbox in KiB (its cgroup's high-water mark: program, page cache and
   * tmpfs files, kernel memory), or null where it cannot be measured (not cgroup v1 with the
   * cgroupfs driver, not root, another runtime, never started). Call it after the exit and
   * before `remove`.
   */
  peakMemoryKb(id: string): number | null {
    const bytes = this.readParentCgroup(id, 'memory', 'memory.max_usage_in_bytes');
    return bytes !== null && bytes > 0 ? Math.ceil(bytes / 1024) : null;
  }

  /**
   * CPU time the sandbox has used so far, in ms (all its processes and threads, from its parent
   * cgroup's cpuacct, which outlives the container), or null where it cannot be measured (see
   * peakMemoryKb).
   */
  cpuUsageMs(id: string): number | null {
    const ns = this.readParentCgroup(id, 'cpuacct', 'cpuacct.usage');
    return ns !== null ? ns / 1e6 : null;
  }

  /**
   * A number from a file of the sandbox's parent cgroup, or null (none, unreadable, garbage).
   * Read synchronously: a cgroup file is a few bytes the kernel formats on the spot (tens of µs),
   * cheaper than the four thread-pool round trips of an asynchronous read, several times a run.
   */
  private readParentCgroup(id: string, hierarchy: string, file: string): number | null {
    const parent = this.parents.get(id);
    if (!parent) return null;
    try {
      const n = Number(readFileSync(join(CGROUP_ROOT, hierarchy, parent, file), 'utf8').trim());
      return Number.isSafeInteger(n) && n >= 0 ? n : null;
    } catch {
      return null;
    }
  }

  async remove(id: string): Promise<void> {
    let parent = this.parents.get(id);
    if (!parent && (await this.usePeakCgroups())) {
      // A container of an earlier life of this worker (see removeLabelled).
      try {
        const info = await this.docker.getContainer(id).inspect();
        const p = info.HostConfig.CgroupParent;
        if (p && CGROUP_PARENT.test(p)) parent = p;
      } catch {
        // gone already
      }
    }
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
    this.parents.delete(id);
    if (parent) await this.removeCgroup(parent);
  }

  /** Removes every sandbox carrying `label` (e.g. those of a previous crash of this worker). */
  async removeLabelled(...labels: string[]): Promise<number> {
    const list = await this.docker.listContainers({ all: true, filters: { label: labels } });
    await Promise.all(list.map((c) => this.remove(c.Id)));
    return list.length;
  }

  /** `removeLabelled` for one worker's sandboxes of this deployment only. */
  removeOwnedBy(workerId: string): Promise<number> {
    return this.removeLabelled(`${LABEL_WORKER}=${workerId}`, `${LABEL_SCOPE}=${this.scope}`);
  }

  /** The WORKER_IDs that own sandboxes of this deployment on this engine (running or not). */
  async sandboxOwners(): Promise<Set<string>> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [LABEL_WORKER, `${LABEL_SCOPE}=${this.scope}`] },
    });
    return new Set(list.map((c) => c.Labels[LABEL_WORKER]).filter(Boolean));
  }

  /** Whether sandboxes get parent cgroups of their own here (cgroup v1, cgroupfs, root). */
  peakCgroupsUsed(): Promise<boolean> {
    return this.usePeakCgroups();
  }

  /** Per-sandbox parent cgroups: only where we can read and remove them (see CGROUP_PARENT_DIR). */
  private usePeakCgroups(): Promise<boolean> {
    this.peakCgroups ??= (async () => {
      if (this.config.runtime !== 'runc') return false;
      try {
        const info = (await this.docker.info()) as {
          CgroupDriver?: string;
          CgroupVersion?: string;
        };
        if (info.CgroupDriver !== 'cgroupfs' || info.CgroupVersion !== '1') return false;
        await access(join(CGROUP_ROOT, 'memory'), constants.R_OK | constants.W_OK);
        return true;
      } catch {
        return false;
      }
    })();
    return this.peakCgroups;
  }

  /** Removes a sandbox's parent cgroup in every hierarchy (runc created it in each). */
  private async removeCgroup(parent: string): Promise<void> {
    if (!CGROUP_PARENT.test(parent)) return;
    let hierarchies: string[];
    try {
      hierarchies = (await readdir(CGROUP_ROOT, { withFileTypes: true }))
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return;
    }
    for (const h of hierarchies) {
      const dir = join(CGROUP_ROOT, h, parent);
      for (let attempt = 0; ; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          // EBUSY: the container's own cgroup is not gone yet.
          if (code !== 'EBUSY' || attempt >= 20) {
            this.logger.warn(`cannot remove cgroup ${dir}: ${(err as Error).message}`);
            break;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  }

  /** Parent cgroups left behind by a crash: empty (rmdir refuses a busy one) and old. */
  private async removeStaleCgroups(): Promise<void> {
    const base = join(CGROUP_ROOT, 'memory', CGROUP_PARENT_DIR);
    let names: string[];
    try {
      names = await readdir(base);
    } catch {
      return;
    }
    for (const name of names) {
      const parent = `/${CGROUP_PARENT_DIR}/${name}`;
      if (!CGROUP_PARENT.test(parent)) continue;
      try {
        if (Date.now() - (await stat(join(base, name))).mtimeMs < STALE_CGROUP_MS) continue;
        if ((await readdir(join(base, name), { withFileTypes: true })).some((d) => d.isDirectory()))
          continue;
      } catch {
        continue;
      }
      await this.removeCgroup(parent);
    }
  }
}

/** The seccomp profile as one line of JSON; a missing or broken file stops the worker's start. */
export function loadSeccompProfile(file: string, variable = 'SANDBOX_SECCOMP'): string {
  let profile: unknown;
  try {
    profile = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${variable}: cannot read the seccomp profile ${file}: ${String(err)}`);
  }
  if (typeof profile !== 'object' || profile === null || !('syscalls' in profile)) {
    throw new Error(`${variable}: ${file} is not a seccomp profile (no "syscalls")`);
  }
  return JSON.stringify(profile);
}
