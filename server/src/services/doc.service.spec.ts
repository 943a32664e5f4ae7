import { describe, expect, it } from '@jest/globals';
import * as Y from 'yjs';
import type { AuthUser } from '@coderoom/contracts';
import type { CoderoomSocket } from '../gateways/client-event.js';
import type { ClassroomBusRepository } from '../repositories/classroom-bus.repository.js';
import type { DocRepository } from '../repositories/doc.repository.js';
import { COMPACT_AFTER, DocService } from './doc.service.js';
import type { SessionService } from './session.service.js';

/** An update inserting `text` (its own client, so every one is a separate change). */
function edit(text: string): Uint8Array {
  const d = new Y.Doc();
  d.getText('t').insert(0, text);
  return Y.encodeStateAsUpdate(d);
}

describe('DocService compaction', () => {
  it('lets one update compact while others past the threshold only append', async () => {
    const stored = new Map<string, { _id: string; update: Uint8Array; bytes: number }>();
    let reads = 0;
    let removes = 0;
    let count = COMPACT_AFTER; // the next update is past the threshold
    let claimed = false;
    const docs = {
      append: (d: { _id: string; update: Buffer; bytes: number }) => {
        stored.set(d._id, { _id: d._id, update: new Uint8Array(d.update), bytes: d.bytes });
        return Promise.resolve();
      },
      all: async () => {
        reads++;
        await new Promise((r) => setTimeout(r, 20)); // a slow database: others arrive meanwhile
        return [...stored.values()];
      },
      remove: (ids: string[]) => {
        removes++;
        ids.forEach((id) => stored.delete(id));
        return Promise.resolve();
      },
    } as unknown as DocRepository;
    const bus = {
      docCounters: (_s: string, add: number) =>
        Promise.resolve({ bytes: 1000, count: add > 0 ? ++count : count }),
      resetDocCounters: () => {
        count = 1;
        return Promise.resolve();
      },
      claimDocCompaction: () => Promise.resolve(claimed ? false : (claimed = true)),
      releaseDocCompaction: () => {
        claimed = false;
        return Promise.resolve();
      },
    } as unknown as ClassroomBusRepository;
    const sessions = {
      access: () => Promise.resolve({ session: { readOnly: false }, role: 'student' }),
      requireOpen: () => undefined,
    } as unknown as SessionService;
    const socket = { to: () => ({ emit: () => true }) } as unknown as CoderoomSocket;
    const service = new DocService(docs, sessions, bus);
    const user = { id: 'u', name: 'u', role: 'student' } as AuthUser;
    for (let i = 0; i < 3; i++) {
      await docs.append({
        _id: `0-${i}`,
        update: Buffer.from(edit(`s${i}`)),
        bytes: 1,
      } as never);
    }

    const texts = Array.from({ length: 10 }, (_, i) => `e${i}`);
    await Promise.all(
      texts.map((t) => service.update(user, 's', Buffer.from(edit(t)).toString('base64'), socket)),
    );

    expect(reads).toBe(1);
    expect(removes).toBe(1);
    expect(claimed).toBe(false); // released
    // Nothing was lost: the stored updates merge to every edit.
    const doc = new Y.Doc();
    Y.applyUpdate(doc, Y.mergeUpdates([...stored.values()].map((s) => s.update)));
    const text = doc.getText('t').toJSON();
    for (const t of [...texts, 's0', 's1', 's2']) expect(text).toContain(t);
  });
});
