import { describe, expect, it } from '@jest/globals';
import { verifiedWrite } from './verified-write.js';

/** A write that counts its calls and fails the first `failing` of them with `error`. */
function counter(failing = 0, error?: Error) {
  const c = {
    calls: 0,
    write: () => {
      c.calls++;
      return c.calls <= failing && error ? Promise.reject(error) : Promise.resolve();
    },
  };
  return c;
}
const answer = (v: boolean) => () => Promise.resolve(v);

describe('verifiedWrite', () => {
  it('writes once when the write landed', async () => {
    const c = counter();
    expect(await verifiedWrite(c.write, answer(true))).toBe(true);
    expect(c.calls).toBe(1);
  });

  it('writes again while a concurrent write overwrote it, up to the attempts', async () => {
    const c = counter();
    expect(await verifiedWrite(c.write, () => Promise.resolve(c.calls >= 2))).toBe(true);
    expect(c.calls).toBe(2);
    const never = counter();
    expect(await verifiedWrite(never.write, answer(false), 3)).toBe(false);
    expect(never.calls).toBe(3);
  });

  it('takes a duplicate-key error (a concurrent upsert inserted first) as not landed yet', async () => {
    const c = counter(1, Object.assign(new Error('E11000 duplicate key'), { code: 11000 }));
    expect(await verifiedWrite(c.write, () => Promise.resolve(c.calls >= 2))).toBe(true);
    const boom = counter(1, Object.assign(new Error('boom'), { code: 1 }));
    await expect(verifiedWrite(boom.write, answer(true))).rejects.toThrow('boom');
  });
});
