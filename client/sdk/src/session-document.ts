import { fromBase64, toBase64 } from './base64.js';
import { Emitter } from './emitter.js';
import type { ClientLink } from './types.js';

/** Events of a {@link SessionDocument}. */
export interface SessionDocumentEvents {
  /** Another member's edit: a Yjs update to apply. */
  update: (update: Uint8Array) => void;
  /** Other members' cursors and names: a y-protocols awareness update to apply. */
  awareness: (update: Uint8Array) => void;
  /**
   * This connection is in the session again after a reconnect: live updates flow again. Sync
   * (`sync(stateVector)`) and send again whatever was not acknowledged.
   */
  online: () => void;
  /** The connection was lost: requests fail with `DISCONNECTED` until `online`. */
  offline: () => void;
  /** The session handle ended (left, lost, or the client closed): nothing more will come. */
  ended: () => void;
}

/** How a session drives its document channel. Not part of the public API. */
export interface SessionDocumentControl {
  receive(kind: 'update' | 'awareness', base64: string): void;
  online(): void;
  offline(): void;
  end(): void;
}

/**
 * The shared document of a session as bytes on the wire (`session.document`): `doc:sync`,
 * `doc:update` and `doc:awareness`, base64-encoded for you, and the other members' updates as
 * events. It knows nothing of Yjs; `CoderoomYjsProvider` (`@coderoom/sdk/yjs`) binds a `Y.Doc`
 * to it, and any other CRDT client could.
 */
export class SessionDocument {
  readonly sessionId: string;
  readonly #link: ClientLink;
  readonly #isReady: () => boolean;
  readonly #events = new Emitter<SessionDocumentEvents>();
  #ended = false;

  /** @internal Made by its `Session`. */
  constructor(
    link: ClientLink,
    sessionId: string,
    isReady: () => boolean,
    bind: (control: SessionDocumentControl) => void,
  ) {
    this.#link = link;
    this.sessionId = sessionId;
    this.#isReady = isReady;
    bind({
      receive: (kind, text) => {
        if (this.#ended || typeof text !== 'string') return;
        let bytes: Uint8Array;
        try {
          bytes = fromBase64(text);
        } catch {
          return; // not base64: nothing a document could apply
        }
        this.#events.emit(kind, bytes);
      },
      online: () => {
        if (!this.#ended) this.#events.emit('online');
      },
      offline: () => {
        if (!this.#ended) this.#events.emit('offline');
      },
      end: () => {
        if (this.#ended) return;
        this.#ended = true;
        this.#events.emit('ended');
      },
    });
  }

  /** Connected, and this connection is in the session: live updates reach this client. */
  get ready(): boolean {
    return !this.#ended && this.#isReady();
  }

  /** True once the session handle has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** `doc:sync`: sends the client's state vector; resolves with the update it lacks. */
  async sync(stateVector: Uint8Array): Promise<Uint8Array> {
    const { update } = await this.#link.request('doc:sync', {
      sessionId: this.sessionId,
      stateVector: toBase64(stateVector),
    });
    return fromBase64(typeof update === 'string' ? update : '');
  }

  /**
   * `doc:update`: resolves once the server has stored the update. Rejects with `FORBIDDEN`
   * (a student while the session is read-only), `CONFLICT` (closed), `TOO_LARGE`, `INVALID`,
   * or transient errors (`DISCONNECTED`, `TIMEOUT`, `RATE_LIMITED`…).
   */
  async update(update: Uint8Array): Promise<void> {
    await this.#link.request('doc:update', { sessionId: this.sessionId, update: toBase64(update) });
  }

  /** `doc:awareness`: relays an awareness update to the other members (not stored). */
  async awareness(update: Uint8Array): Promise<void> {
    await this.#link.request('doc:awareness', {
      sessionId: this.sessionId,
      update: toBase64(update),
    });
  }

  on<E extends keyof SessionDocumentEvents>(
    event: E,
    listener: SessionDocumentEvents[E],
  ): () => void {
    return this.#events.on(event, listener);
  }

  once<E extends keyof SessionDocumentEvents>(
    event: E,
    listener: SessionDocumentEvents[E],
  ): () => void {
    return this.#events.once(event, listener);
  }
}
