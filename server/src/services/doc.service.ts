import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import { CLASSROOM_LIMITS, CoderoomError, type AuthUser } from '@coderoom/contracts';
import { ClassroomBusRepository } from '../repositories/classroom-bus.repository.js';
import { DocRepository } from '../repositories/doc.repository.js';
import type { CoderoomSocket } from '../gateways/client-event.js';
import { sessionRoom } from '../repositories/classroom-bus.repository.js';
import { SessionService } from './session.service.js';

/** Stored updates of a document past which the next edit compacts them into one. */
export const COMPACT_AFTER = 500;

/**
 * The shared document of a session (Yjs): members' updates are validated, stored (the ack
 * means stored) and relayed to the other members on every node; a sync answers what a client
 * lacks from the merge of the stored updates. The server keeps no Y.Doc: Yjs' update functions
 * (`mergeUpdates`, `diffUpdate`) work on the stored bytes directly.
 */
@Injectable()
export class DocService {
  private readonly logger = new Logger(DocService.name);
  /** Awareness client ids each local connection announced per session (removed when it goes). */
  private readonly awareness = new Map<string, Map<string, Map<number, number>>>();

  constructor(
    private readonly docs: DocRepository,
    private readonly sessions: SessionService,
    private readonly bus: ClassroomBusRepository,
  ) {}

  async sync(user: AuthUser, sessionId: string, stateVector: string): Promise<string> {
    await this.sessions.access(user, sessionId);
    const sv = decode(stateVector, 64 * 1024, 'stateVector');
    try {
      Y.decodeStateVector(sv);
    } catch {
      throw invalid('stateVector', 'not a Yjs state vector');
    }
    const stored = await this.docs.all(sessionId);
    const merged = stored.length ? Y.mergeUpdates(stored.map((s) => s.update)) : emptyUpdate();
    return Buffer.from(Y.diffUpdate(merged, sv)).toString('base64');
  }

  async update(
    user: AuthUser,
    sessionId: string,
    update: string,
    socket: CoderoomSocket,
  ): Promise<void> {
    const { session, role } = await this.sessions.access(user, sessionId);
    this.sessions.requireOpen(session);
    if (session.readOnly && role !== 'instructor') {
      throw new CoderoomError('FORBIDDEN', 'the document is read-only for students');
    }
    const bytes = decode(update, CLASSROOM_LIMITS.docUpdateBytes, 'update');
    validateUpdate(bytes);
    const counted = await this.bus.docCounters(sessionId, bytes.length);
    // One compaction at a time per document: until it resets the counters, every update counts
    // past COMPACT_AFTER, and each starting its own (read all, merge, write) piled them up.
    const compactDue =
      counted.count > COMPACT_AFTER && (await this.bus.claimDocCompaction(sessionId));
    if (counted.bytes > CLASSROOM_LIMITS.docBytes || compactDue) {
      try {
        // Past the limit by the sum of the updates: the merge is usually much smaller, so
        // measure it (and store it) before refusing anything.
        const stored = await this.docs.all(sessionId);
        const merged = stored.length ? Y.mergeUpdates(stored.map((s) => s.update)) : emptyUpdate();
        const after = Y.mergeUpdates([merged, bytes]);
        if (after.length > CLASSROOM_LIMITS.docBytes) {
          await this.bus.docCounters(sessionId, -bytes.length);
          throw new CoderoomError(
            'TOO_LARGE',
            `the document would be ${after.length} bytes; the limit is ${CLASSROOM_LIMITS.docBytes}`,
          );
        }
        if (stored.length > 1) await this.compact(sessionId, stored, merged);
        await this.bus.resetDocCounters(sessionId, after.length);
      } finally {
        if (compactDue) await this.bus.releaseDocCompaction(sessionId);
      }
    }
    // Relayed while it is stored: the others need not wait for MongoDB. The sender's ack still
    // follows the store, and a sender whose store failed sends it again (Yjs takes an update
    // twice without harm), so what was acknowledged is stored and what was relayed converges.
    socket.to(sessionRoom(sessionId)).emit('doc:update', { sessionId, update });
    await this.docs.append({
      _id: `${Date.now().toString(36).padStart(9, '0')}-${randomUUID()}`,
      sessionId,
      update: Buffer.from(bytes),
      bytes: bytes.length,
      at: new Date(),
    });
  }

  async awarenessUpdate(
    user: AuthUser,
    sessionId: string,
    update: string,
    socket: CoderoomSocket,
  ): Promise<void> {
    await this.sessions.access(user, sessionId);
    const bytes = decode(update, CLASSROOM_LIMITS.awarenessBytes, 'update');
    const states = parseAwareness(bytes);
    let mine = this.awareness.get(socket.id);
    if (!mine) this.awareness.set(socket.id, (mine = new Map<string, Map<number, number>>()));
    let clients = mine.get(sessionId);
    if (!clients) mine.set(sessionId, (clients = new Map<number, number>()));
    for (const s of states) {
      if (s.state === null) clients.delete(s.clientId);
      else clients.set(s.clientId, s.clock);
    }
    socket.to(sessionRoom(sessionId)).emit('doc:awareness', { sessionId, update });
  }

  /** A connection went: its awareness states are removed for the others (null states). */
  disconnected(socket: CoderoomSocket): void {
    const mine = this.awareness.get(socket.id);
    this.awareness.delete(socket.id);
    if (!mine) return;
    for (const [sessionId, clients] of mine) {
      if (clients.size === 0) continue;
      const update = Buffer.from(encodeRemoval(clients)).toString('base64');
      this.bus.toRoom(sessionId, 'doc:awareness', { sessionId, update });
    }
  }

  /** Replaces stored updates by their merge: the merge first, then the deletes. */
  private async compact(
    sessionId: string,
    stored: { _id: string }[],
    merged: Uint8Array,
  ): Promise<void> {
    try {
      await this.docs.append({
        _id: `${Date.now().toString(36).padStart(9, '0')}-${randomUUID()}`,
        sessionId,
        update: Buffer.from(merged),
        bytes: merged.length,
        at: new Date(),
      });
      await this.docs.remove(stored.map((s) => s._id));
    } catch (err) {
      this.logger.warn(`compacting the document of ${sessionId}: ${(err as Error).message}`);
    }
  }
}

function invalid(path: string, message: string): CoderoomError {
  return new CoderoomError('INVALID', `invalid payload: ${path}`, { details: [{ path, message }] });
}

function decode(b64: string, max: number, path: string): Uint8Array {
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length > max) {
    throw new CoderoomError('TOO_LARGE', `${path} is ${bytes.length} bytes; the limit is ${max}`);
  }
  return new Uint8Array(bytes);
}

/** An update that Yjs cannot read is refused before it is stored: it would break every sync. */
export function validateUpdate(bytes: Uint8Array): void {
  try {
    if (bytes.length === 0) throw new Error('empty');
    const doc = new Y.Doc();
    Y.applyUpdate(doc, bytes);
    // A well-formed update reads back; garbage often "applies" as nothing or throws here.
    Y.mergeUpdates([bytes]);
    doc.destroy();
  } catch {
    throw invalid('update', 'not a Yjs update');
  }
}

function emptyUpdate(): Uint8Array {
  return Y.encodeStateAsUpdate(new Y.Doc());
}

/** The entries of a y-protocols awareness update; INVALID when it is not one. */
export function parseAwareness(
  bytes: Uint8Array,
): { clientId: number; clock: number; state: unknown }[] {
  try {
    const d = decoding.createDecoder(bytes);
    const n = decoding.readVarUint(d);
    if (n > 1000) throw new Error('too many');
    const out = [];
    for (let i = 0; i < n; i++) {
      const clientId = decoding.readVarUint(d);
      const clock = decoding.readVarUint(d);
      const state: unknown = JSON.parse(decoding.readVarString(d));
      out.push({ clientId, clock, state });
    }
    if (decoding.hasContent(d)) throw new Error('trailing bytes');
    return out;
  } catch {
    throw invalid('update', 'not a y-protocols awareness update');
  }
}

/** An awareness update setting these clients' states to null (the y-protocols removal). */
function encodeRemoval(clients: Map<number, number>): Uint8Array {
  const parts: number[] = [];
  const varUint = (n: number) => {
    while (n > 0x7f) {
      parts.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    parts.push(n);
  };
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    varUint(b.length);
    parts.push(...b);
  };
  varUint(clients.size);
  for (const [clientId, clock] of clients) {
    varUint(clientId);
    varUint(clock + 1);
    str('null');
  }
  return new Uint8Array(parts);
}
