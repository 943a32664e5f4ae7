import { PassThrough, type Duplex } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import Docker from 'dockerode';
import { WORKER_CONFIG, type WorkerConfig } from '../config/config.js';

export interface SandboxSpec {
  image: string;
  labels: Record<string, string>;
  memoryMb: number;
  cpus: number;
  pids: number;
  tmpfsMb: number;
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

export const SANDBOX_UID = 10001;
export const LABEL_RUN = 'coderoom.run';
export const LABEL_WORKER = 'coderoom.worker';

/** Docker, through dockerode: the only place that knows container settings. */
@Injectable()
export class DockerRepository {
  private readonly logger = new Logger(DockerRepository.name);
  private readonly docker: Docker;

  constructor(@Inject(WORKER_CONFIG) private readonly config: WorkerConfig) {
    this.docker = new Docker({ socketPath: config.dockerSocket });
  }

  async ping(): Promise<boolean> {
    try {
      await this.docker.ping();
      return true;
    } catch {
      return false;
    }
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch {
      return false;
    }
  }

  /** A hardened, stopped container whose entrypoint (the runner) will read the run from stdin. */
  async create(spec: SandboxSpec): Promise<string> {
    const memory = spec.memoryMb * 1024 * 1024;
    const container = await this.docker.createContainer({
      Image: spec.image,
      User: `${SANDBOX_UID}:${SANDBOX_UID}`,
      WorkingDir: '/box',
      Env: [], // nothing of ours: the program can read its own environment (/proc/1/environ)
      Labels: spec.labels,
      NetworkDisabled: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      OpenStdin: true,
      StdinOnce: true,
      Tty: false,
      HostConfig: {
        NetworkMode: 'none',
        Memory: memory,
        MemorySwap: memory, // no swap: an overrun is an OOM kill, reported as MLE
        NanoCpus: Math.round(spec.cpus * 1e9),
        PidsLimit: spec.pids,
        ReadonlyRootfs: true,
        Tmpfs: {
          '/box': `rw,exec,nosuid,nodev,size=${spec.tmpfsMb}m,uid=${SANDBOX_UID},gid=${SANDBOX_UID},mode=0700`,
          '/tmp': `rw,exec,nosuid,nodev,size=${spec.tmpfsMb}m,mode=1777`,
        },
        ShmSize: 8 * 1024 * 1024,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        // The default json-file driver copies all output to the host disk (a disk-fill attack).
        LogConfig: { Type: 'none', Config: {} },
        Init: true, // docker-init reaps zombies; when the program exits, everything else dies
        IpcMode: 'private',
        Ulimits: [
          { Name: 'nofile', Soft: 256, Hard: 256 },
          { Name: 'fsize', Soft: spec.tmpfsMb * 1024 * 1024, Hard: spec.tmpfsMb * 1024 * 1024 },
          { Name: 'core', Soft: 0, Hard: 0 },
        ],
        Runtime: this.config.runtime,
        AutoRemove: false,
      },
    });
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
    return this.docker
      .getContainer(id)
      .wait({ condition: 'next-exit' })
      .then((r: { StatusCode: number }) => r.StatusCode);
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

  async oomKilled(id: string): Promise<boolean> {
    const info = await this.docker.getContainer(id).inspect();
    return info.State.OOMKilled === true;
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }

  /** Removes every sandbox carrying `label` (e.g. those of a previous crash of this worker). */
  async removeLabelled(label: string): Promise<number> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [label] } });
    await Promise.all(list.map((c) => this.remove(c.Id)));
    return list.length;
  }
}
