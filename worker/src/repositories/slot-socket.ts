import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

/** Where a slot's socket appears inside its container (the supervisor's `socket` setting). */
export const SLOT_SOCKET_IN_CONTAINER = '/slot/worker.sock';

/**
 * The directory of this worker's slot sockets (SANDBOX_SLOT_SOCKETS/<worker id>), emptied: a
 * socket left by an earlier process of this worker belongs to no slot any more. Only the worker's
 * user may enter it (mode 0700); each socket is bound into its own slot container alone.
 */
export function prepareSlotSocketDir(base: string, workerId: string): string {
  const dir = join(base, workerId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 48));
  // A unix socket's path has room for 107 bytes; the name takes 22 of them.
  if (Buffer.byteLength(dir) > 84) {
    throw new Error(`SANDBOX_SLOT_SOCKETS: ${dir} is too long for unix sockets (84 bytes at most)`);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700); // one made earlier, in another mode
    for (const name of readdirSync(dir)) {
      if (name.endsWith('.sock')) rmSync(join(dir, name), { force: true });
    }
  } catch (err) {
    throw new Error(
      `SANDBOX_SLOT_SOCKETS: cannot prepare ${dir} (${(err as Error).message}); give the worker a directory it may create and own, or set it empty for the attach stream`,
    );
  }
  return dir;
}

/**
 * The listening end of one slot's socket. It takes one connection (the supervisor's), then stops
 * listening and removes its file: nothing else can connect, even from inside the container.
 */
export class SlotSocket {
  private constructor(
    readonly path: string,
    private readonly server: Server,
    private readonly first: Promise<Socket>,
  ) {}

  static async listen(dir: string): Promise<SlotSocket> {
    const path = join(dir, `${randomBytes(8).toString('hex')}.sock`);
    const server = createServer({ noDelay: true, pauseOnConnect: true });
    const first = new Promise<Socket>((resolve, reject) => {
      server.once('connection', (socket) => {
        server.close();
        resolve(socket);
      });
      server.once('error', reject);
      server.once('close', () => reject(new Error('the slot socket closed before a connection')));
    });
    first.catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    // The slot's user is a random uid: it may connect; the directory keeps everybody else out.
    chmodSync(path, 0o666);
    return new SlotSocket(path, server, first);
  }

  /** The supervisor's connection, or a rejection when none comes within `ms`. */
  accept(ms: number): Promise<Socket> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.first,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          this.close();
          reject(new Error(`the supervisor did not connect within ${ms} ms`));
        }, ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Stops listening (and removes the file), connected or not. */
  close(): void {
    if (this.server.listening) this.server.close();
  }
}
