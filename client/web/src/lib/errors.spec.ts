import { describe, expect, it } from '@jest/globals';
import { CoderoomError } from '@coderoom/sdk';
import { detailLines, explain, toUiError } from './errors.js';

describe('errors', () => {
  it('keeps code, message, details and retryAfterMs of an SDK error', () => {
    const e = new CoderoomError('BUSY', 'queue is long', { retryAfterMs: 2500 });
    expect(toUiError(e)).toEqual({ code: 'BUSY', message: 'queue is long', retryAfterMs: 2500 });
    expect(toUiError(new Error('boom'))).toEqual({ code: 'CLIENT', message: 'boom' });
  });

  it('explains every API error code a student can meet, with a countdown where it applies', () => {
    for (const code of ['RATE_LIMITED', 'BUSY']) {
      expect(explain({ code, message: '' }).countdown).toBe(true);
    }
    for (const code of ['FORBIDDEN', 'TOO_LARGE', 'CONFLICT', 'INVALID', 'DISCONNECTED']) {
      const info = explain({ code, message: '' });
      expect(info.countdown).toBe(false);
      expect(info.title).not.toBe('Something went wrong');
    }
    expect(explain({ code: 'NEW_CODE', message: 'x' }).title).toBe('Something went wrong');
  });

  it('lists validation details by field', () => {
    expect(detailLines([{ path: ['files', 0, 'path'], message: 'bad path' }, 'plain'])).toEqual([
      'files.0.path: bad path',
      'plain',
    ]);
    expect(detailLines(undefined)).toEqual([]);
  });
});
