import mongoose, { type Connection } from 'mongoose';

/** MongoDB's duplicate key error code. */
export const DUPLICATE_KEY = 11000;
/** MongoDB's error code for a feature the server does not implement (FerretDB v1: TTL indexes). */
export const NOT_IMPLEMENTED = 238;

/** True for MongoDB's duplicate key error (a unique index refused the write). */
export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: number } | null)?.code === DUPLICATE_KEY;
}

/**
 * The one way both apps open MongoDB: a mongoose connection that fails a request after 5 s
 * without a server (rather than queueing it for ever) and reports driver errors to `warn`.
 */
export function connectMongo(uri: string, warn: (message: string) => void): Connection {
  const connection = mongoose.createConnection(uri, { serverSelectionTimeoutMS: 5000 });
  connection.on('error', (err: Error) => warn(`mongodb: ${err.message}`));
  return connection;
}

/** Whether the database answers a ping now (readiness). */
export async function pingMongo(connection: Connection): Promise<boolean> {
  try {
    await connection.db?.admin().ping();
    return connection.readyState === mongoose.ConnectionStates.connected;
  } catch {
    return false;
  }
}
