import { describe, expect, it } from '@jest/globals';
import { RunLifecycle } from './run-lifecycle.js';

describe('RunLifecycle', () => {
  it('walks queued -> compiling -> running -> finished', () => {
    const l = new RunLifecycle('r1');
    expect([l.to('compiling'), l.to('running'), l.to('finished')]).toEqual([
      'compiling',
      'running',
      'finished',
    ]);
  });

  it('throws on an out-of-order transition', () => {
    const l = new RunLifecycle('r1');
    l.to('running');
    expect(() => l.to('compiling')).toThrow(/running -> compiling/);
    l.to('finished');
    expect(() => l.to('finished')).toThrow(/finished -> finished/);
  });
});
