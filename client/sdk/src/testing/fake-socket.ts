import type { SocketIoOptions } from '../client.js';
import type { CoderoomSocket } from '../types.js';

/** A request the client emitted, answered by the test with `answer` or `fail`. */
export interface FakeRequest {
  event: string;
  payload: unknown;
  answered: boolean;
  answer(response: unknown): void;
  fail(message: string): void;
}

/**
 * A stand-in for a socket.io-client socket, driven by the test: it records what the client
 * emits and lets the test play the server (handshake, events, acknowledgements, disconnects).
 * Only what CoderoomClient uses is implemented.
 */
export class FakeSocket {
  connected = false;
  active = false;
  connectCalls = 0;
  readonly requests: FakeRequest[] = [];
  /** When set, called with every request as it is emitted (a test's server, answering). */
  respond: ((req: FakeRequest) => void) | null = null;
  readonly #handlers = new Map<string, Array<(...args: unknown[]) => void>>();
  readonly io = { engine: { close: () => this.drop('transport close') } };

  constructor(
    readonly url: string,
    readonly options: SocketIoOptions,
  ) {}

  static factory(): {
    create: (url: string, o: SocketIoOptions) => CoderoomSocket;
    sockets: FakeSocket[];
  } {
    const sockets: FakeSocket[] = [];
    return {
      sockets,
      create: (url, o) => {
        const s = new FakeSocket(url, o);
        sockets.push(s);
        return s as unknown as CoderoomSocket;
      },
    };
  }

  on(event: string, fn: (...args: unknown[]) => void): this {
    const list = this.#handlers.get(event) ?? [];
    list.push(fn);
    this.#handlers.set(event, list);
    return this;
  }

  connect(): this {
    this.connectCalls++;
    this.active = true;
    return this;
  }

  disconnect(): this {
    this.active = false;
    if (this.connected) this.drop('io client disconnect');
    return this;
  }

  timeout(_ms: number): { emit(event: string, payload: unknown, cb: AckCb): void } {
    return {
      emit: (event, payload, cb) => {
        const req: FakeRequest = {
          event,
          payload,
          answered: false,
          answer: (response) => {
            if (req.answered) throw new Error(`${event} answered twice`);
            req.answered = true;
            cb(null, response);
          },
          fail: (message) => {
            req.answered = true;
            cb(new Error(message));
          },
        };
        this.requests.push(req);
        this.respond?.(req);
      },
    };
  }

  // --- the test plays the server --------------------------------------------------------

  /** Runs the client's `auth` function and, with what it gives, connects. */
  async handshake(): Promise<object> {
    const auth = this.options.auth as (cb: (data: object) => void) => void;
    const data = await new Promise<object>((resolve) => auth(resolve));
    this.connected = true;
    this.fire('connect');
    return data;
  }

  /** The connection is lost: pending acknowledgements fail (as socket.io does), then `disconnect`. */
  drop(reason: string): void {
    if (!this.connected) return;
    this.connected = false;
    if (reason === 'io server disconnect' || reason === 'io client disconnect') this.active = false;
    for (const r of this.requests) if (!r.answered) r.fail('socket has been disconnected');
    this.fire('disconnect', reason);
  }

  /**
   * The server's middleware refuses the handshake: socket.io-client then destroys the socket
   * and stops retrying by itself, whatever the reason (its CONNECT_ERROR packet handling).
   */
  refuse(message: string, data?: unknown): void {
    this.active = false;
    this.fire('connect_error', Object.assign(new Error(message), { data }));
  }

  fire(event: string, ...args: unknown[]): void {
    for (const fn of [...(this.#handlers.get(event) ?? [])]) fn(...args);
  }

  /** Unanswered requests of one event, oldest first. */
  pending(event: string): FakeRequest[] {
    return this.requests.filter((r) => r.event === event && !r.answered);
  }

  last(event: string): FakeRequest {
    const list = this.requests.filter((r) => r.event === event);
    const r = list[list.length - 1];
    if (!r) throw new Error(`no ${event} request`);
    return r;
  }
}

type AckCb = (err: Error | null, response?: unknown) => void;
