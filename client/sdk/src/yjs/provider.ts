import * as Y from 'yjs';
import {
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates,
  type Awareness,
} from 'y-protocols/awareness';
import { Emitter } from '../emitter.js';
import { CoderoomError, toCoderoomError } from '../errors.js';
import { isRetryable, retryDelayMs } from '../retry.js';
import type { Session } from '../session.js';

/** Bytes of one `doc:update` the server accepts (API.md limits: 256 KiB decoded). */
export const DOC_UPDATE_BYTES = 256 * 1024;

export interface CoderoomYjsProviderOptions {
  /** y-protocols awareness (cursors, names) to relay both ways; its `doc` must be this doc. */
  awareness?: Awareness;
}

/** Events of a {@link CoderoomYjsProvider}. */
export interface CoderoomYjsProviderEvents {
  /** The document caught up with the server: once attached, and again after every reconnect. */
  synced: () => void;
  /**
   * Something went wrong. If `provider.blocked` is set, a local update was refused for good
   * (`FORBIDDEN`: read-only for students; `CONFLICT`: closed; `TOO_LARGE`; `INVALID`): sending
   * is paused, and the refused updates are kept, until `retry()` (done by itself when this
   * client sees the session become editable again).
   */
  error: (err: CoderoomError) => void;
}

type AwarenessChange = { added: number[]; updated: number[]; removed: number[] };

/**
 * Binds a `Y.Doc` (and optionally a y-protocols `Awareness`) to a session's shared document,
 * over the SDK's connection. Works in browsers and in Node.
 *
 * - Local changes (any transaction whose origin is not this provider) are sent as `doc:update`,
 *   one request at a time, queued changes merged into one update; each stays queued until the
 *   server acknowledges it (stored). A transient failure (`TIMEOUT`, `RATE_LIMITED`, `BUSY`,
 *   `INTERNAL`) is retried with backoff, a lost connection resends after the reconnect: a local
 *   edit is never dropped. A refusal (`FORBIDDEN` while read-only…) is reported, not retried.
 * - Other members' updates are applied with this provider as the transaction origin, so they
 *   are not sent back.
 * - On attach and after every reconnect it syncs with `doc:sync` (its state vector; the answer
 *   is what it lacks). Content the doc had before attaching is sent once too.
 * - Awareness flows both ways; remote states are dropped while disconnected, and this
 *   client's state is removed for the others on `destroy()`.
 */
export class CoderoomYjsProvider {
  readonly session: Session;
  readonly doc: Y.Doc;
  readonly awareness: Awareness | null;
  readonly #events = new Emitter<CoderoomYjsProviderEvents>();
  readonly #offs: Array<() => void> = [];
  /** Local updates not acknowledged yet, oldest first; the first `#sending` are in flight. */
  #queue: Uint8Array[] = [];
  #sending = 0;
  #retries = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #syncRound = 0;
  #syncRetries = 0;
  #synced = false;
  #blocked: CoderoomError | null = null;
  /** Whether sending was retried once after a refusal, with no success since. */
  #retriedOnce = false;
  #destroyed = false;
  #flushWaiters: Array<{ resolve: () => void; reject: (e: CoderoomError) => void }> = [];

  constructor(session: Session, doc: Y.Doc, options: CoderoomYjsProviderOptions = {}) {
    this.session = session;
    this.doc = doc;
    this.awareness = options.awareness ?? null;
    const channel = session.document;

    const onDocUpdate = (update: Uint8Array, origin: unknown): void => {
      if (origin === this) return;
      this.#queue.push(update);
      this.#pump();
    };
    doc.on('update', onDocUpdate);
    this.#offs.push(() => doc.off('update', onDocUpdate));
    const onDocDestroy = (): void => this.destroy();
    doc.on('destroy', onDocDestroy);
    this.#offs.push(() => doc.off('destroy', onDocDestroy));

    this.#offs.push(
      channel.on('update', (update) => this.#applyRemote(update)),
      channel.on('online', () => this.#sync()),
      channel.on('offline', () => this.#offline()),
      channel.on('ended', () => this.destroy()),
      session.on('locked', (readOnly) => {
        if (!readOnly && this.#blocked?.code === 'FORBIDDEN') this.retry();
      }),
    );

    const awareness = this.awareness;
    if (awareness) {
      const onAwareness = ({ added, updated, removed }: AwarenessChange, origin: unknown) => {
        if (origin === this) return;
        this.#sendAwareness([...added, ...updated, ...removed]);
      };
      awareness.on('update', onAwareness);
      this.#offs.push(
        () => awareness.off('update', onAwareness),
        channel.on('awareness', (update) => {
          try {
            applyAwarenessUpdate(awareness, update, this);
          } catch (e) {
            this.#report(
              new CoderoomError('INTERNAL', 'unreadable awareness update', { cause: e }),
            );
          }
        }),
      );
    }

    // What the doc holds already is sent once: the server may not have it (applying twice is
    // harmless in Yjs).
    if (doc.store.clients.size > 0) this.#queue.push(Y.encodeStateAsUpdate(doc));
    this.#sync();
  }

  /** The document has caught up with the server on the current connection. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Local updates the server has not acknowledged yet. */
  get pending(): number {
    return this.#queue.length;
  }

  /** The refusal that paused sending (`retry()` resumes), else null. */
  get blocked(): CoderoomError | null {
    return this.#blocked;
  }

  on<E extends keyof CoderoomYjsProviderEvents>(
    event: E,
    listener: CoderoomYjsProviderEvents[E],
  ): () => void {
    return this.#events.on(event, listener);
  }

  once<E extends keyof CoderoomYjsProviderEvents>(
    event: E,
    listener: CoderoomYjsProviderEvents[E],
  ): () => void {
    return this.#events.once(event, listener);
  }

  /**
   * Resolves once every local change made so far is acknowledged by the server (stored).
   * Rejects with the refusal if sending is paused (`blocked`), `CLOSED` if destroyed first.
   */
  flush(): Promise<void> {
    if (this.#destroyed) return Promise.reject(destroyedError());
    if (this.#blocked) return Promise.reject(this.#blocked);
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.#flushWaiters.push({ resolve, reject }));
  }

  /** Resumes sending after a refusal (e.g. once the session is editable again). */
  retry(): void {
    if (this.#destroyed) return;
    this.#blocked = null;
    this.#pump();
  }

  /**
   * Stops: no more sending or applying. Unacknowledged changes stay in the doc but are not sent
   * (`await provider.flush()` first to be sure they are stored). This client's awareness state
   * is removed for the others. The doc and the session handle are left as they are.
   */
  destroy(): void {
    if (this.#destroyed) return;
    const awareness = this.awareness;
    if (awareness && this.session.document.ready) {
      removeAwarenessStates(awareness, [awareness.clientID], this);
      this.#sendAwareness([awareness.clientID]);
    }
    this.#destroyed = true;
    this.#clearRetry();
    for (const off of this.#offs.splice(0)) off();
    this.#settleFlush(destroyedError());
  }

  // --- sync -----------------------------------------------------------------------------

  #sync(): void {
    const channel = this.session.document;
    if (this.#destroyed || !channel.ready) return; // `online` will call again
    const round = ++this.#syncRound;
    this.#synced = false;
    channel.sync(Y.encodeStateVector(this.doc)).then(
      (update) => {
        if (this.#destroyed || round !== this.#syncRound) return;
        this.#syncRetries = 0;
        if (update.length > 0) this.#applyRemote(update);
        this.#synced = true;
        this.#events.emit('synced');
        const awareness = this.awareness;
        if (awareness?.getLocalState()) this.#sendAwareness([awareness.clientID]);
      },
      (err: unknown) => {
        if (this.#destroyed || round !== this.#syncRound) return;
        const e = toCoderoomError(err);
        if (e.code === 'DISCONNECTED' || e.code === 'CLOSED') return; // `online` syncs again
        if (isRetryable(e)) {
          setTimeout(
            () => {
              if (round === this.#syncRound) this.#sync();
            },
            retryDelayMs(e, this.#syncRetries++),
          );
          return;
        }
        this.#report(e);
      },
    );
    // Whatever waited for the connection (or was in flight when it was lost) goes now.
    this.#pump();
  }

  #offline(): void {
    this.#synced = false;
    this.#syncRound++; // an answer still on its way belongs to the lost connection
    const awareness = this.awareness;
    if (!awareness) return;
    // Their cursors would go stale: they come back with each member's next awareness renewal.
    const others = [...awareness.getStates().keys()].filter((c) => c !== awareness.clientID);
    if (others.length > 0) removeAwarenessStates(awareness, others, this);
  }

  #applyRemote(update: Uint8Array): void {
    if (this.#destroyed) return;
    try {
      Y.applyUpdate(this.doc, update, this);
    } catch (e) {
      this.#report(new CoderoomError('INTERNAL', 'unreadable document update', { cause: e }));
    }
  }

  // --- sending --------------------------------------------------------------------------

  #pump(): void {
    const channel = this.session.document;
    if (this.#destroyed || this.#blocked || this.#sending > 0 || this.#retryTimer) return;
    if (this.#queue.length === 0 || !channel.ready) return;
    // As many queued updates as fit in one request, merged (Yjs merges them losslessly).
    let n = 0;
    let bytes = 0;
    while (
      n < this.#queue.length &&
      (n === 0 || bytes + this.#queue[n].length <= DOC_UPDATE_BYTES)
    ) {
      bytes += this.#queue[n].length;
      n++;
    }
    const batch = n === 1 ? this.#queue[0] : Y.mergeUpdates(this.#queue.slice(0, n));
    this.#sending = n;
    channel.update(batch).then(
      () => {
        if (this.#destroyed) return;
        this.#queue.splice(0, n);
        this.#sending = 0;
        this.#retries = 0;
        this.#retriedOnce = false;
        if (this.#queue.length === 0) this.#settleFlush(null);
        this.#pump();
      },
      (err: unknown) => {
        if (this.#destroyed) return;
        this.#sending = 0;
        const e = toCoderoomError(err);
        // Lost connection: resent once back in the session (`online`). Closed client: over.
        if (e.code === 'DISCONNECTED' || e.code === 'CLOSED') return;
        if (isRetryable(e)) {
          this.#retryTimer = setTimeout(
            () => {
              this.#retryTimer = null;
              this.#pump();
            },
            retryDelayMs(e, this.#retries++),
          );
          return;
        }
        this.#blocked = e;
        this.#report(e);
        this.#settleFlush(e);
        if (e.code === 'FORBIDDEN') this.#learnLock(e);
      },
    );
  }

  /**
   * A refusal with `FORBIDDEN` most likely means the session was locked and the edit crossed
   * the server's `session:locked` push (or the push was missed while reconnecting): read the
   * session again, so `session.readOnly` (and the `locked` event the web page shows) is right,
   * and the next unlock this client sees (pushed, or read) resumes sending. If the session
   * turns out editable (unlocked meanwhile), try once more.
   */
  #learnLock(refusal: CoderoomError): void {
    this.session.refresh().then(
      (view) => {
        if (this.#blocked !== refusal || this.#retriedOnce) return;
        if (view.status === 'open' && (view.role === 'instructor' || !view.readOnly)) {
          this.#retriedOnce = true;
          this.retry();
        }
      },
      () => undefined, // the refusal is reported already; a reconnect reads the session again
    );
  }

  #sendAwareness(clients: number[]): void {
    const awareness = this.awareness;
    if (!awareness || clients.length === 0 || !this.session.document.ready) return;
    // Awareness is ephemeral and renewed every 15 s by y-protocols: a lost one is not resent.
    this.session.document
      .awareness(encodeAwarenessUpdate(awareness, clients))
      .catch(() => undefined);
  }

  #report(err: CoderoomError): void {
    this.#events.emit('error', err);
  }

  #settleFlush(err: CoderoomError | null): void {
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const w of waiters) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  #clearRetry(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }
}

function destroyedError(): CoderoomError {
  return new CoderoomError('CLOSED', 'the provider was destroyed');
}
