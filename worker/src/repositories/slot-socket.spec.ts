import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { SlotSocket, prepareSlotSocketDir } from './slot-socket.js';

// The worker's end of a slot's socket, on real unix sockets (the supervisor's end, in a real
// slot container, is exercised by server/test/slot.e2e.spec.ts).
const base = () => mkdtempSync(join(tmpdir(), 'slot-socket-'));
const dial = (path: string) =>
  new Promise<ReturnType<typeof connect>>((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });

describe('SlotSocket', () => {
  it('takes the first connection only, then removes its file', async () => {
    const socket = await SlotSocket.listen(prepareSlotSocketDir(base(), 'w1'));
    expect(statSync(socket.path).mode & 0o777).toBe(0o666);
    const client = await dial(socket.path);
    const server = await socket.accept(1000);
    client.write('R');
    const got = await new Promise<string>((r) =>
      server.once('data', (d: Buffer) => r(String(d))).resume(),
    );
    expect(got).toBe('R');
    expect(existsSync(socket.path)).toBe(false);
    await expect(dial(socket.path)).rejects.toThrow(/ENOENT|ECONNREFUSED/);
    client.destroy();
    server.destroy();
  });

  it('gives up when nobody connects in time, and removes its file', async () => {
    const socket = await SlotSocket.listen(prepareSlotSocketDir(base(), 'w2'));
    await expect(socket.accept(50)).rejects.toThrow(/did not connect within 50 ms/);
    expect(existsSync(socket.path)).toBe(false);
  });

  it("empties the worker's directory of sockets left by an earlier process, and keeps it private", () => {
    const root = base();
    mkdirSync(join(root, 'worker_1'), { mode: 0o755 }); // made earlier, open to all
    const dir = prepareSlotSocketDir(root, 'worker/1');
    writeFileSync(join(dir, 'old.sock'), '');
    expect(prepareSlotSocketDir(root, 'worker/1')).toBe(dir);
    expect(readdirSync(dir)).toEqual([]);
    expect(dir).toBe(join(root, 'worker_1'));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('says which directory it cannot prepare, and what to do', () => {
    const file = join(base(), 'not-a-directory');
    writeFileSync(file, '');
    expect(() => prepareSlotSocketDir(file, 'w')).toThrow(
      /SANDBOX_SLOT_SOCKETS: cannot prepare .*not-a-directory\/w .*set it empty for the attach stream/,
    );
  });

  it('refuses a directory whose sockets would not fit a unix socket path', () => {
    expect(() => prepareSlotSocketDir(join(base(), 'x'.repeat(80)), 'w')).toThrow(/too long/);
  });
});
