import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Schema, type Model } from 'mongoose';
import { DatabaseRepository } from './database.repository.js';

/**
 * One stored Yjs update of a session's shared document (collection `doc_updates`). Updates are
 * appended as members edit; compaction replaces many with their merge (Yjs' own
 * `mergeUpdates`), inserting the merge before deleting what it replaces, so a reader at any
 * moment finds the whole document (an update read twice is harmless in Yjs).
 */
export interface DocUpdateDocument {
  _id: string;
  sessionId: string;
  update: Buffer;
  bytes: number;
  at: Date;
}

const docUpdateSchema = new Schema<DocUpdateDocument>(
  {
    _id: { type: String, required: true },
    sessionId: { type: String, required: true },
    update: { type: Buffer, required: true },
    bytes: { type: Number, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'doc_updates', versionKey: false, autoIndex: false },
);

@Injectable()
export class DocRepository implements OnModuleInit {
  private readonly updates: Model<DocUpdateDocument>;

  constructor(private readonly db: DatabaseRepository) {
    this.updates = db.connection.model<DocUpdateDocument>('DocUpdate', docUpdateSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.db.ready();
    await this.updates.collection.createIndex({ sessionId: 1, at: 1 });
  }

  async append(doc: DocUpdateDocument): Promise<void> {
    await this.updates.create(doc);
  }

  async all(sessionId: string): Promise<{ _id: string; update: Uint8Array; bytes: number }[]> {
    const docs = await this.updates
      .find({ sessionId })
      .sort({ at: 1 })
      .select({ update: 1, bytes: 1 })
      .lean<{ _id: string; update: { buffer: ArrayBufferLike } | Buffer; bytes: number }[]>()
      .exec();
    return docs.map((d) => ({ _id: d._id, update: toBytes(d.update), bytes: d.bytes }));
  }

  async remove(ids: string[]): Promise<void> {
    await this.updates.deleteMany({ _id: { $in: ids } }).exec();
  }
}

/** A stored Buffer comes back from `lean()` as a BSON Binary (or a Buffer): its bytes. */
function toBytes(b: { buffer: ArrayBufferLike } | Buffer | Uint8Array): Uint8Array {
  if (b instanceof Uint8Array) return new Uint8Array(b);
  const binary = b as unknown as { buffer: Uint8Array; value?: (asRaw: boolean) => Uint8Array };
  return new Uint8Array(binary.buffer);
}
