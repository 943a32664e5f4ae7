import { describe, expect, it } from '@jest/globals';
import { SlotFrameParser, encodeSlotFrame } from './slot-protocol.js';

const frame = (kind: string, payload: string | Buffer): Buffer => {
  const body = Buffer.from(payload);
  const head = Buffer.alloc(5);
  head.write(kind, 0, 'latin1');
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
};

describe('slot frames', () => {
  it('encodes the worker frames with the sandbox number first', () => {
    expect(encodeSlotFrame('D', 7, Buffer.from('hi'))).toEqual(
      Buffer.from([0x44, 0, 0, 0, 6, 0, 0, 0, 7, 0x68, 0x69]),
    );
    expect(encodeSlotFrame('K', 258)).toEqual(Buffer.from([0x4b, 0, 0, 0, 4, 0, 0, 1, 2]));
  });

  it('parses the supervisor frames, split anywhere', () => {
    const all = Buffer.concat([
      frame('R', '3'),
      frame('O', 'out'),
      frame('E', Buffer.from([0xff, 0x00])),
      frame('X', '137'),
      frame('F', 'files survived'),
    ]);
    for (let cut = 0; cut <= all.length; cut++) {
      const p = new SlotFrameParser();
      const events = [...p.push(all.subarray(0, cut)), ...p.push(all.subarray(cut))];
      expect(events).toEqual([
        { type: 'ready', sandbox: 3 },
        { type: 'stdout', data: Buffer.from('out') },
        { type: 'stderr', data: Buffer.from([0xff, 0x00]) },
        { type: 'exit', code: 137 },
        { type: 'fatal', reason: 'files survived' },
      ]);
      expect(p.error).toBeNull();
    }
  });

  it('stops at a malformed frame and says why', () => {
    for (const [bad, why] of [
      [frame('Z', ''), 'unknown frame type "Z"'],
      [frame('X', '-1'), 'bad X frame'],
      [frame('R', ''), 'bad R frame'],
      [Buffer.from([0x4f, 0x7f, 0xff, 0xff, 0xff]), `frame of ${0x7fffffff} bytes`],
    ] as const) {
      const p = new SlotFrameParser();
      expect(p.push(Buffer.concat([frame('O', 'a'), bad, frame('O', 'b')]))).toEqual([
        { type: 'stdout', data: Buffer.from('a') },
      ]);
      expect(p.error).toBe(why);
      expect(p.push(frame('O', 'c'))).toEqual([]);
    }
  });
});
