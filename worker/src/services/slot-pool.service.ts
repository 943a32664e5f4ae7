import type { Socket } from 'node:net';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { WORKER_CONFIG, tierOf, type WorkerConfig } from '../config/config.js';
import {
  DockerRepository,
  LABEL_WORKER,
  type SandboxIo,
  type SandboxSpec,
} from '../repositories/docker.repository.js';
import { LanguageRepository } from '../repositories/language.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import type { CgroupCounters } from '../repositories/cgroup-counters.js';
import { SlotRepository } from '../repositories/slot.repository.js';
import { SlotSocket, prepareSlotSocketDir } from '../repositories/slot-socket.js';
import type { RunSandbox } from './run-sandbox.js';
import { sandboxSpec } from './sandbox-run.js';
import { SandboxJanitorService } from './sandbox-janitor.service.js';
import { SlotFrameParser, encodeSlotFrame, type SlotEvent } from './slot-protocol.js';
import { poolKey } from './warm-pool.service.js';

export const LABEL_SLOT = 'coderoom.slot';
/** A kill the supervisor has not answered (X) in this long: the whole slot container is killed. */
const KILL_ANSWER_MS = 2000;
/** After a run, the supervisor's sweep and next sandbox (R) must come within this, or it is retired. */
const NEXT_READY_MS = 5000;
/** The supervisor's own complaints kept for the log (it prints nothing in normal operation). */
const STDERR_KEEP = 4000;

/**
 * One slot container: its supervisor, the fresh sandbox it holds ready, and the run (lease) that
 * has it now. At most one run at a time, so the container's cgroup counts that run alone.
 */
class Slot {
  runs = 0;
  dead = false;
  /** The number of the sandbox waiting for a run (R), or null while there is none. */
  ready: number | null = null;
  lease: SlotLease | null = null;
  private readyWaiters: ((ok: boolean) => void)[] = [];
  private readonly parser = new SlotFrameParser();
  /** The supervisor's socket, once connected (SANDBOX_SLOT_SOCKETS); else frames use `io`. */
  private channel: Socket | null = null;
  stderr = '';

  /** Its cgroup's counters (SlotRepository.counters), once started; null where unreadable. */
  counters: CgroupCounters | null = null;

  constructor(
    readonly id: string,
    readonly key: string,
    private readonly io: SandboxIo,
    readonly exited: Promise<number>,
    private readonly onDeath: (slot: Slot, why: string) => void,
  ) {
    io.onStdout((data) => {
      // Over a socket, the attach stream's stdout carries only what the supervisor sent before it
      // connected (an F); anything after that is not a frame.
      if (this.channel) this.stderr = (this.stderr + data.toString('utf8')).slice(-STDERR_KEEP);
      else this.frames(data);
    });
    io.onStderr(
      (data) => (this.stderr = (this.stderr + data.toString('utf8')).slice(-STDERR_KEEP)),
    );
    void exited.then(
      (code) => this.die(`container exited (${code})`),
      (err: Error) => this.die(`container wait failed: ${err.message}`),
    );
  }

  /** The supervisor's source, then nothing until it reports a sandbox ready. */
  boot(supervisor: Buffer): void {
    this.io.write(Buffer.concat([Buffer.from(`${supervisor.length}\n`), supervisor]));
  }

  /** From now on the frames go both ways over the supervisor's socket (SlotSocket). */
  connect(channel: Socket): void {
    this.channel = channel;
    channel.setNoDelay(true);
    channel.on('data', (data: Buffer) => this.frames(data));
    channel.on('error', () => undefined); // 'close' follows
    channel.on('close', () => this.die('its socket closed'));
    channel.resume();
  }

  send(kind: 'D' | 'C' | 'K', sandbox: number, data?: Buffer): void {
    if (this.dead) return;
    const frame = encodeSlotFrame(kind, sandbox, data);
    if (this.channel) {
      if (!this.channel.destroyed) this.channel.write(frame);
    } else this.io.write(frame);
  }

  private frames(data: Buffer): void {
    for (const e of this.parser.push(data)) this.event(e);
    if (this.parser.error) this.die(`protocol: ${this.parser.error}`);
  }

  /** Resolves true once a sandbox is ready, false if the slot died or `ms` passed first. */
  whenReady(ms: number): Promise<boolean> {
    if (this.dead) return Promise.resolve(false);
    if (this.ready !== null) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        resolve(false);
      }, ms);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      this.readyWaiters.push(done);
    });
  }

  die(why: string): void {
    if (this.dead) return;
    this.dead = true;
    this.ready = null;
    this.counters?.close();
    this.readyWaiters.splice(0).forEach((w) => w(false));
    this.channel?.destroy();
    this.lease?.lost(why);
    this.onDeath(this, why);
  }

  private event(e: SlotEvent): void {
    switch (e.type) {
      case 'ready':
        this.ready = e.sandbox;
        this.readyWaiters.splice(0).forEach((w) => w(true));
        break;
      case 'stdout':
      case 'stderr':
        this.lease?.output(e.type, e.data);
        break;
      case 'exit':
        if (this.lease) this.lease.ended(e.code);
        else this.die('a run ended that no run held');
        break;
      case 'fatal':
        this.die(`supervisor: ${e.reason}`);
        break;
      default: {
        const never: never = e;
        throw new Error(`unknown slot event ${JSON.stringify(never)}`);
      }
    }
  }
}

/** A slot's sandbox as a run takes it: a RunSandbox that can also go back unused. */
export interface SlotSandbox extends RunSandbox {
  /**
   * The run will not use it (its check said no): the slot goes back to its pool with the same
   * ready sandbox when nothing was sent to it, else as after a run that did not end cleanly.
   */
  giveBack(): void;
}

/** One run in a slot: the RunSandbox SandboxRun steps through. */
class SlotLease implements SlotSandbox {
  readonly io: SandboxIo;
  readonly exited: Promise<number>;
  private resolveExit!: (code: number) => void;
  private rejectExit!: (err: Error) => void;
  private readonly outputs: Record<'stdout' | 'stderr', ((data: Buffer) => void)[]> = {
    stdout: [],
    stderr: [],
  };
  /** The run's end came (X, or the slot died). */
  private done = false;
  /** It came as X: the supervisor swept the sandbox and vouches for the slot. */
  private clean = false;
  private killTimer: NodeJS.Timeout | null = null;
  private killed = false;
  private readonly oomBase: number | null;
  /** Whether the high-water mark was reset for this run (else it is not the run's: no number). */
  private readonly peakReset: boolean;
  private released = false;
  /** A frame went to its sandbox: it is no longer unused. */
  private touched = false;

  constructor(
    private readonly slot: Slot,
    private readonly sandbox: number,
    private readonly docker: DockerRepository,
    private readonly onRelease: (slot: Slot, clean: boolean) => void,
    private readonly onGiveBack: (slot: Slot, sandbox: number) => void,
  ) {
    this.exited = new Promise((resolve, reject) => {
      this.resolveExit = resolve;
      this.rejectExit = reject;
    });
    this.exited.catch(() => undefined); // SandboxRun awaits it; nobody else must crash on it
    // Peak memory and OOM kills from now on are this run's (the slot holds nothing else).
    this.peakReset = slot.counters?.resetPeak() ?? false;
    this.oomBase = slot.counters?.oomKills() ?? null;
    const ended = this.exited.then(
      () => undefined,
      () => undefined,
    );
    this.io = {
      write: (data) => {
        this.touched = true;
        this.slot.send('D', sandbox, Buffer.from(data));
      },
      closeStdin: () => {
        this.touched = true;
        this.slot.send('C', sandbox);
      },
      onStdout: (cb) => this.outputs.stdout.push(cb),
      onStderr: (cb) => this.outputs.stderr.push(cb),
      // The supervisor sends all output before X: at the exit, everything is delivered.
      ended,
    };
  }

  get id(): string {
    return this.slot.id;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  kill(): void {
    if (this.done) return;
    this.touched = true;
    this.killed = true;
    this.slot.send('K', this.sandbox);
    // A supervisor that does not answer is not trusted with another run: the slot goes.
    this.killTimer ??= setTimeout(() => {
      this.slot.die('the kill was not answered');
      void this.docker.kill(this.slot.id);
    }, KILL_ANSWER_MS);
  }

  cpuUsageMs(): number | null {
    return this.slot.counters?.cpuMs() ?? null;
  }

  peakMemoryKb(): number | null {
    return this.peakReset ? (this.slot.counters?.peakKb() ?? null) : null;
  }

  async oomKilled(): Promise<boolean> {
    const now = this.slot.counters?.oomKills() ?? null;
    if (now !== null && this.oomBase !== null && now > this.oomBase) return true;
    // The slot died with the run (its cgroup may be gone): Docker knows.
    if (this.slot.dead) return this.docker.oomKilled(this.slot.id).catch(() => false);
    // Counters unreadable (neither cgroup v1 with cgroupfs nor v2): MLE is not told from a kill.
    return false;
  }

  giveBack(): void {
    if (this.released) return;
    if (this.touched || this.done) return this.release(false);
    this.released = true;
    this.done = true;
    this.onGiveBack(this.slot, this.sandbox);
  }

  release(clean: boolean): void {
    if (this.released) return;
    this.released = true;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.onRelease(this.slot, clean && this.clean && !this.slot.dead);
  }

  output(stream: 'stdout' | 'stderr', data: Buffer): void {
    for (const cb of this.outputs[stream]) cb(data);
  }

  /** X: the run's sandbox ended and everything of it is gone. */
  ended(code: number): void {
    if (this.done) return;
    this.clean = true;
    this.end(code);
  }

  /**
   * The slot died under the run (container exit, fatal report, kill not answered). A run that was
   * being killed ends as killed (SIGKILL; its verdict is why it was killed); any other is a
   * system error: nobody knows how the program ended.
   */
  lost(why: string): void {
    if (this.done) return;
    if (this.killed) return this.end(137);
    this.done = true;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.rejectExit(new Error(`the slot died under the run: ${why}`));
  }

  private end(code: number): void {
    this.done = true;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.resolveExit(code);
  }
}

/**
 * The slot tier (sandbox/slot/README.md): per (image, limits), long-lived slot containers, each
 * running one run at a time in a fresh bubblewrap sandbox that its supervisor prepared before the
 * run came. A slot goes back to its pool after a run that ended in a known way, once its
 * supervisor reports that nothing of the run is left (every process gone, /box and /tmp empty)
 * and the next sandbox is ready; it is replaced after SLOT_RUNS runs and after any anomaly (a
 * fatal report, a kill not answered, an engine failure, an OOM kill, a broken frame).
 */
@Injectable()
export class SlotPoolService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(SlotPoolService.name);
  private readonly idle = new Map<string, Slot[]>();
  private readonly all = new Set<Slot>();
  /** Keys with a spare slot being started (see `spare`). */
  private readonly sparing = new Set<string>();
  private closed = false;
  /** This worker's directory of slot sockets (SANDBOX_SLOT_SOCKETS), or null: attach streams. */
  private readonly socketDir: string | null;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly repo: SlotRepository,
    private readonly docker: DockerRepository,
    private readonly janitor: SandboxJanitorService,
    private readonly languages: LanguageRepository,
    private readonly metrics: MetricsRepository,
  ) {
    const used = [config.tier, ...Object.values(config.tierByLanguage)].includes('slot');
    this.socketDir =
      used && config.slotSocketDir
        ? prepareSlotSocketDir(config.slotSocketDir, config.workerId)
        : null;
  }

  /** Slots for WARM_POOL_LANGUAGES of the slot tier, started before their first run. */
  onApplicationBootstrap(): void {
    for (const id of this.config.warmPoolLanguages) {
      const language = this.languages.get(id);
      if (!language || tierOf(this.config, id) !== 'slot') continue;
      const spec = sandboxSpec(this.config, language, 'run');
      for (let i = 0; i < Math.max(1, this.config.warmPoolSize); i++) {
        void this.startSlot({ ...spec, labels: {} })
          .then((slot) => this.park(slot))
          .catch((err: Error) => this.logger.warn(`slot for ${id}: ${err.message}`));
      }
    }
  }

  /** Slots that exist now (idle or running). */
  get size(): number {
    return this.all.size;
  }

  /** A run's sandbox: an idle slot's ready sandbox, or a new slot's. */
  async take(spec: Omit<SandboxSpec, 'labels'>): Promise<SlotSandbox> {
    if (this.closed) throw new Error('the worker is shutting down');
    const idle = this.idle.get(poolKey(spec)) ?? [];
    let slot: Slot | undefined;
    // An idle slot may still be sweeping after its last run: its next sandbox comes in ms, far
    // sooner than a new slot's.
    while ((slot = idle.shift())) {
      if (await slot.whenReady(NEXT_READY_MS)) break;
      this.retire(slot, 'no next sandbox after the run');
    }
    slot ??= await this.startSlot({ ...spec, labels: {} });
    if (idle.length === 0) this.spare(spec);
    const sandbox = slot.ready!;
    slot.ready = null;
    const lease = new SlotLease(
      slot,
      sandbox,
      this.docker,
      (s, clean) => this.release(s, clean),
      (s, unused) => this.giveBack(s, unused),
    );
    slot.lease = lease;
    return lease;
  }

  /**
   * A second slot for a key whose last idle one was just taken: the next run then finds a slot
   * whose sandbox had time to start (the interpreter of a sandbox started right before its run
   * is part of that run's latency), and back-to-back runs alternate between the two. Bounded by
   * the idle cap per key.
   */
  private spare(spec: Omit<SandboxSpec, 'labels'>): void {
    const key = poolKey(spec);
    const perKey = Math.max(this.config.warmPoolSize, this.config.concurrency);
    const slotsOfKey = [...this.all].filter((s) => s.key === key).length;
    if (this.closed || this.sparing.has(key) || slotsOfKey >= perKey) return;
    this.sparing.add(key);
    void this.startSlot({ ...spec, labels: {} })
      .then((slot) => this.park(slot))
      .catch((err: Error) => this.logger.warn(`spare slot: ${err.message}`))
      .finally(() => this.sparing.delete(key));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    const idle = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.allSettled(idle.map((s) => this.docker.remove(s.id)));
  }

  private async startSlot(spec: SandboxSpec): Promise<Slot> {
    await this.janitor.ready;
    const socket = this.socketDir ? await SlotSocket.listen(this.socketDir) : null;
    let slot: Slot;
    let id: string;
    try {
      let cgroup: string | null;
      ({ id, cgroup } = await this.repo.create(
        { ...spec, labels: { [LABEL_WORKER]: this.config.workerId, [LABEL_SLOT]: 'slot' } },
        socket?.path,
      ));
      try {
        const io = await this.docker.attach(id);
        const exited = this.docker.waitForExit(id);
        slot = new Slot(id, poolKey(spec), io, exited, (s, why) => this.retire(s, why));
        this.all.add(slot);
        await this.docker.start(id);
        slot.counters = await this.repo.counters(id, cgroup);
        slot.boot(this.repo.supervisor);
      } catch (err) {
        this.janitor.dispose(id);
        throw err;
      }
    } catch (err) {
      socket?.close();
      throw err;
    }
    if (socket) {
      // The supervisor connects once it runs; an F it sent instead is on the attach stream.
      const connected = await Promise.race([
        socket.accept(this.config.sandboxStartMs).then(
          (channel) => channel,
          () => null,
        ),
        slot.whenReady(this.config.sandboxStartMs).then(() => null),
      ]);
      socket.close();
      if (connected) slot.connect(connected);
      else slot.die('its supervisor did not connect');
    }
    if (!(await slot.whenReady(this.config.sandboxStartMs))) {
      const why = slot.stderr.trim().split('\n').slice(-3).join(' | ');
      slot.die('no sandbox ready');
      throw new Error(`slot ${id.slice(0, 12)} did not get ready${why ? `: ${why}` : ''}`);
    }
    return slot;
  }

  private release(slot: Slot, clean: boolean): void {
    slot.lease = null;
    slot.runs++;
    if (!clean || this.closed || slot.runs >= this.config.slotRuns) {
      this.retire(slot, clean ? 'recycled' : 'the run did not end cleanly');
      return;
    }
    this.park(slot);
    // Idle and never ready again (a supervisor that hangs in its sweep): retired.
    void slot.whenReady(NEXT_READY_MS).then((ok) => {
      if (!ok && !slot.lease) this.retire(slot, 'no next sandbox after the run');
    });
  }

  /** A slot taken and not used (SlotSandbox.giveBack): idle again, its sandbox still ready. */
  private giveBack(slot: Slot, sandbox: number): void {
    slot.lease = null;
    if (slot.dead) return;
    slot.ready = sandbox;
    this.park(slot);
  }

  /** Back into its pool, or retired when the pools hold enough idle slots. */
  private park(slot: Slot): void {
    if (slot.dead) return;
    const idle = this.idle.get(slot.key) ?? [];
    this.idle.set(slot.key, idle);
    const total = [...this.idle.values()].reduce((n, l) => n + l.length, 0);
    const perKey = Math.max(this.config.warmPoolSize, this.config.concurrency);
    if (this.closed || idle.length >= perKey || total >= this.config.warmPoolMax) {
      this.retire(slot, 'enough idle slots');
      return;
    }
    idle.push(slot);
  }

  private retire(slot: Slot, why: string): void {
    if (!this.all.delete(slot)) return;
    if (!slot.dead) slot.die(why);
    const idle = this.idle.get(slot.key);
    if (idle?.includes(slot)) idle.splice(idle.indexOf(slot), 1);
    if (!this.closed && why !== 'recycled' && why !== 'enough idle slots') {
      this.metrics.error('slot');
      this.logger.warn({
        msg: `slot retired: ${why}`,
        slot: slot.id.slice(0, 12),
        runs: slot.runs,
      });
    }
    this.janitor.dispose(slot.id);
  }
}
