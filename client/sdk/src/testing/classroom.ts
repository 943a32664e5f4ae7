import * as Y from 'yjs';
import type {
  DashboardRun,
  DashboardSnapshot,
  Member,
  MemberRole,
  SessionView,
} from '@coderoom/contracts';
import { fromBase64, toBase64 } from '../base64.js';
import { CoderoomClient } from '../client.js';
import type { Session } from '../session.js';
import { FakeSocket, type FakeRequest } from './fake-socket.js';

// Factories and a small in-memory classroom server for the SDK's unit tests.

export const AT = '2024-01-01T00:00:00.000Z';

export function member(userId: string, role: MemberRole = 'student', online = true): Member {
  return { userId, name: userId.toUpperCase(), role, online, activity: null };
}

export function sessionView(overrides: Partial<SessionView> = {}): SessionView {
  return {
    sessionId: 's1',
    title: 'CS101',
    status: 'open',
    role: 'instructor',
    readOnly: false,
    joinCode: 'ABC234',
    members: [member('ada', 'instructor')],
    problems: [],
    createdAt: AT,
    ...overrides,
  };
}

export function dashboardRun(runId: string, createdAt = AT, more: Partial<DashboardRun> = {}) {
  return {
    runId,
    userId: 'bob',
    language: 'python',
    mode: 'submit',
    status: 'queued',
    createdAt,
    ...more,
  } satisfies DashboardRun;
}

export function snapshot(more: Partial<DashboardSnapshot> = {}): DashboardSnapshot {
  return { sessionId: 's1', members: [], runs: [], progress: [], ...more };
}

/** A client connected through a fake socket; `before` sees the socket before it connects. */
export async function fakeClient(
  token = 't',
  before: (socket: FakeSocket) => void = () => undefined,
): Promise<{ client: CoderoomClient; socket: FakeSocket }> {
  const f = FakeSocket.factory();
  const pending = CoderoomClient.connect(
    'http://coderoom.test',
    { token },
    { createSocket: f.create },
  );
  const socket = f.sockets[0];
  before(socket);
  await socket.handshake();
  return { client: await pending, socket };
}

/** A fake client in a session: `how` is answered with `view`. */
export async function fakeClientIn(
  view: SessionView,
  how: 'session:create' | 'session:join' | 'session:get' = 'session:get',
): Promise<{ client: CoderoomClient; socket: FakeSocket; session: Session }> {
  const { client, socket } = await fakeClient();
  const entering =
    how === 'session:create'
      ? client.createSession({ title: view.title })
      : how === 'session:join'
        ? client.joinSession('ABC234')
        : client.session(view.sessionId);
  socket.last(how).answer({ ok: true, session: view });
  return { client, socket, session: await entering };
}

/** Waits for timers and promise callbacks queued so far (answers, retries at 0 ms). */
export const flush = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds, failing after `ms`. */
export async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await flush(5);
  }
}

interface Peer {
  socket: FakeSocket;
  userId: string;
  role: MemberRole;
}

/**
 * Plays the server's shared document for several fake sockets: `session:get`, `doc:sync`,
 * `doc:update` (stored in a `Y.Doc`, relayed to the other peers), `doc:awareness` (relayed).
 * Answers and relays come asynchronously, one macrotask later, as over a network. A test
 * can lock the document for students, make the next answers fail, or lose an answer.
 */
export class FakeDocServer {
  readonly doc = new Y.Doc();
  readonly peers: Peer[] = [];
  readOnly = false;
  /** Error codes the next `doc:update`s answer with (transient failures), in order. */
  readonly failUpdates: Array<'INTERNAL' | 'RATE_LIMITED' | 'BUSY'> = [];
  /** The next `doc:update` is stored and relayed, but its connection drops before the answer. */
  loseNextAck = false;
  /** The connection of the next `doc:update` drops before the server has it. */
  loseNextUpdate = false;
  /** `doc:update` requests received, per user. */
  readonly updates = new Map<string, number>();

  constructor(readonly sessionId = 's1') {}

  attach(socket: FakeSocket, userId: string, role: MemberRole = 'student'): void {
    const peer = { socket, userId, role };
    this.peers.push(peer);
    socket.respond = (req) => setTimeout(() => this.#handle(peer, req), 0);
  }

  view(peer: Peer): SessionView {
    return sessionView({
      sessionId: this.sessionId,
      role: peer.role,
      readOnly: this.readOnly,
      members: this.peers.map((p) => member(p.userId, p.role)),
    });
  }

  text(name = 'main'): string {
    return this.doc.getText(name).toJSON();
  }

  #handle(peer: Peer, req: FakeRequest): void {
    if (req.answered || !peer.socket.connected) return;
    const p = req.payload as { update?: string; stateVector?: string };
    switch (req.event) {
      case 'session:get':
      case 'session:join':
        req.answer({ ok: true, session: this.view(peer) });
        return;
      case 'doc:sync': {
        const update = Y.encodeStateAsUpdate(this.doc, fromBase64(p.stateVector ?? ''));
        req.answer({ ok: true, update: toBase64(update) });
        return;
      }
      case 'doc:update': {
        this.updates.set(peer.userId, (this.updates.get(peer.userId) ?? 0) + 1);
        const code = this.failUpdates.shift();
        if (code) {
          req.answer({ ok: false, error: { code, message: 'try again', retryAfterMs: 1 } });
          return;
        }
        if (this.loseNextUpdate) {
          this.loseNextUpdate = false;
          peer.socket.drop('transport close');
          return;
        }
        if (this.readOnly && peer.role === 'student') {
          req.answer({
            ok: false,
            error: { code: 'FORBIDDEN', message: 'the document is read-only for students' },
          });
          return;
        }
        Y.applyUpdate(this.doc, fromBase64(p.update ?? ''));
        this.#relay(peer, 'doc:update', p.update ?? '');
        if (this.loseNextAck) {
          this.loseNextAck = false;
          peer.socket.drop('transport close');
          return;
        }
        req.answer({ ok: true });
        return;
      }
      case 'doc:awareness':
        this.#relay(peer, 'doc:awareness', p.update ?? '');
        req.answer({ ok: true });
        return;
      default:
        req.answer({ ok: false, error: { code: 'INVALID', message: `unknown ${req.event}` } });
    }
  }

  #relay(from: Peer, event: string, update: string): void {
    for (const other of this.peers) {
      if (other === from) continue;
      setTimeout(() => {
        if (other.socket.connected) {
          other.socket.fire(event, { sessionId: this.sessionId, update });
        }
      }, 0);
    }
  }
}
