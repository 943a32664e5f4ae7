import { isDuplicateKey } from './database.js';

/**
 * Runs `write`, then `landed`; repeats the write (up to `attempts` in all) while what it wrote
 * is not there. MongoDB applies each update atomically, so there the first check passes.
 * FerretDB v1 (local runs and tests) updates a document by reading and rewriting it whole, and
 * of two concurrent updates of one run document (the gateway's request fields, the worker's
 * progress) one can be lost; the check catches that. Two concurrent upserts of a new document
 * can also fail one with a duplicate-key error (MongoDB retries those itself, FerretDB does
 * not): that counts as not landed yet. Returns whether the write landed.
 */
export async function verifiedWrite(
  write: () => Promise<unknown>,
  landed: () => Promise<boolean>,
  attempts = 3,
): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    try {
      await write();
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    if (await landed()) return true;
    await new Promise((r) => setTimeout(r, 20 * (i + 1)));
  }
  return false;
}
