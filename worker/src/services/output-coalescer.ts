import { StringDecoder } from 'node:string_decoder';
import type { OutputStream } from '@coderoom/contracts';

export interface OutputPart {
  stream: OutputStream;
  data: string;
}

export interface CoalescerOptions {
  /** Bytes of stdout+stderr a run may produce; the rest is dropped and `onLimit` fires once. */
  limitBytes: number;
  /** Largest chunk handed to `onFlush`, in UTF-16 code units (about bytes for text). */
  maxChunk: number;
  /** After a flush, how long further output waits to be merged into the next chunk. */
  flushMs: number;
}

/**
 * Turns the raw byte stream of a run into a few ordered, UTF-8-safe text chunks: output is sent
 * as it is produced (at most `flushMs` late) without one event per write. Bytes past the limit
 * are dropped here, because killing the container lets megabytes through before it dies.
 */
export class OutputCoalescer {
  private pending: OutputPart[] = [];
  private pendingSize = 0;
  private timer: NodeJS.Timeout | null = null;
  /** The timer only waits for the end of a first line (leading edge), not for the merge window. */
  private lineWait = false;
  /** When the last flush happened (ms, performance clock); output after a quiet spell goes at once. */
  private lastFlushAt = -Infinity;
  private readonly decoders = new Map<OutputStream, StringDecoder>();
  private counted = 0;
  truncated = false;
  private ended = false;

  constructor(
    private readonly opts: CoalescerOptions,
    private readonly onFlush: (parts: OutputPart[]) => void,
    private readonly onLimit: () => void,
  ) {}

  push(stream: OutputStream, data: Buffer): void {
    if (this.ended) return; // bytes after the end (late from Docker) would follow run:finished
    if (stream !== 'compile') {
      if (this.truncated) return;
      const room = this.opts.limitBytes - this.counted;
      if (data.length > room) {
        data = data.subarray(0, room);
        this.truncated = true;
      }
      this.counted += data.length;
    }
    this.append(stream, this.decoder(stream).write(data));
    if (this.truncated && stream !== 'compile') {
      this.append(stream, this.decoder(stream).end());
      this.flush();
      this.onLimit();
    }
  }

  /** Flushes everything, including incomplete UTF-8 sequences (as replacement characters). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const [stream, decoder] of this.decoders) this.append(stream, decoder.end());
    this.flush();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.lineWait = false;
    if (this.pending.length === 0) return;
    const parts = this.pending;
    this.pending = [];
    this.pendingSize = 0;
    this.lastFlushAt = performance.now();
    this.onFlush(parts);
  }

  private decoder(stream: OutputStream): StringDecoder {
    let d = this.decoders.get(stream);
    if (!d) this.decoders.set(stream, (d = new StringDecoder('utf8')));
    return d;
  }

  private append(stream: OutputStream, text: string): void {
    while (text.length > 0) {
      const last = this.pending[this.pending.length - 1];
      if (last && last.stream === stream && last.data.length < this.opts.maxChunk) {
        const piece = cut(text, this.opts.maxChunk - last.data.length);
        last.data += piece;
        text = text.slice(piece.length);
        this.pendingSize += piece.length;
      } else {
        const piece = cut(text, this.opts.maxChunk);
        this.pending.push({ stream, data: piece });
        text = text.slice(piece.length);
        this.pendingSize += piece.length;
      }
      if (this.pendingSize >= this.opts.maxChunk) this.flush();
    }
    if (this.pending.length === 0) return;
    const endsLine = this.pending[this.pending.length - 1].data.endsWith('\n');
    if (this.timer) {
      // The end of the first line arrived: it goes now, not when the wait is over.
      if (this.lineWait && endsLine) this.flush();
      return;
    }
    // Leading edge: the first output after a quiet spell is sent at once (the user is waiting
    // for it); what follows within flushMs is merged into one chunk.
    const wait = this.lastFlushAt + this.opts.flushMs - performance.now();
    if (wait <= 0 && endsLine) return this.flush();
    // A partial line (print() writes text and newline separately) waits a moment for its end.
    this.lineWait = wait <= 0;
    this.timer = setTimeout(() => this.flush(), Math.max(wait, PARTIAL_LINE_MS));
  }
}

/** How long a partial line after a quiet spell waits for the rest of its line. */
const PARTIAL_LINE_MS = 3;

/** The first `n` code units of `s`, never splitting a surrogate pair. */
function cut(s: string, n: number): string {
  if (s.length <= n) return s;
  const code = s.charCodeAt(n - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}
