/**
 * Frames between the worker and a slot's supervisor (sandbox/slot/supervisor.py), carried by the
 * container's attach stream or its own unix socket (SANDBOX_SLOT_SOCKETS): a type byte, a 4-byte
 * big-endian length, the payload.
 *
 * worker -> supervisor (the payload starts with the sandbox's number, 4 bytes big-endian, so a
 * late frame of an ended run never reaches the next run's sandbox):
 *   D  bytes for the run's stdin      C  close the run's stdin      K  kill the run
 * supervisor -> worker:
 *   R  a fresh sandbox is ready (payload: its number, decimal)
 *   O  the run's stdout               E  the run's stderr
 *   X  the run ended (payload: exit code, decimal; 128 + n for signal n)
 *   F  fatal: the slot is not to be trusted any more (payload: why); the supervisor exits
 */
export type SlotEvent =
  | { type: 'ready'; sandbox: number }
  | { type: 'stdout' | 'stderr'; data: Buffer }
  | { type: 'exit'; code: number }
  | { type: 'fatal'; reason: string };

/** Largest frame the supervisor sends (its reads are 64 KiB); anything larger is a broken slot. */
const MAX_FRAME = 1024 * 1024;

export function encodeSlotFrame(kind: 'D' | 'C' | 'K', sandbox: number, data?: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.write(kind, 0, 'latin1');
  head.writeUInt32BE(4 + (data?.length ?? 0), 1);
  head.writeUInt32BE(sandbox, 5);
  return data ? Buffer.concat([head, data]) : head;
}

/** Splits the supervisor's stdout into events; a malformed frame sets `error` (and stops). */
export class SlotFrameParser {
  private buf: Buffer = Buffer.alloc(0);
  error: string | null = null;

  push(data: Buffer): SlotEvent[] {
    if (this.error) return [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    const events: SlotEvent[] = [];
    while (this.buf.length >= 5) {
      const n = this.buf.readUInt32BE(1);
      if (n > MAX_FRAME) return this.fail(events, `frame of ${n} bytes`);
      if (this.buf.length < 5 + n) break;
      const kind = String.fromCharCode(this.buf[0]);
      const payload = this.buf.subarray(5, 5 + n);
      this.buf = this.buf.subarray(5 + n);
      const text = () => payload.toString('latin1');
      switch (kind) {
        case 'R':
        case 'X': {
          if (!/^\d{1,9}$/.test(text())) return this.fail(events, `bad ${kind} frame`);
          const n = Number(text());
          events.push(kind === 'R' ? { type: 'ready', sandbox: n } : { type: 'exit', code: n });
          break;
        }
        case 'O':
          events.push({ type: 'stdout', data: payload });
          break;
        case 'E':
          events.push({ type: 'stderr', data: payload });
          break;
        case 'F':
          events.push({ type: 'fatal', reason: payload.toString('utf8').slice(0, 2000) });
          break;
        default:
          return this.fail(events, `unknown frame type ${JSON.stringify(kind)}`);
      }
    }
    return events;
  }

  private fail(events: SlotEvent[], error: string): SlotEvent[] {
    this.error = error;
    return events;
  }
}
