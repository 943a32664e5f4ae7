import { describe, expect, it } from '@jest/globals';
import { judge, type RunOutcome } from './verdict.js';

const base: RunOutcome = {
  killedFor: null,
  compileExit: 0,
  oomKilled: false,
  exitCode: 0,
  protocolError: false,
};

describe('judge', () => {
  it.each<[Partial<RunOutcome>, string]>([
    [{}, 'OK'],
    [{ exitCode: 3 }, 'RE'],
    [{ compileExit: 1, exitCode: 0 }, 'CE'],
    [{ killedFor: 'TLE', exitCode: 137 }, 'TLE'],
    [{ oomKilled: true, exitCode: 137 }, 'MLE'],
    [{ killedFor: 'TLE', oomKilled: true, exitCode: 137 }, 'MLE'],
    [{ killedFor: 'OLE', exitCode: 137 }, 'OLE'],
    [{ killedFor: 'CANCELLED', oomKilled: true, exitCode: 137 }, 'CANCELLED'],
    [{ killedFor: 'COMPILE_TIMEOUT', exitCode: 137 }, 'CE'],
    [{ compileExit: null, exitCode: 90 }, 'SE'],
    [{ protocolError: true }, 'SE'],
  ])('%j -> %s', (o, verdict) => {
    expect(judge({ ...base, ...o }).verdict).toBe(verdict);
  });

  it('names the signal of a program killed by one', () => {
    expect(judge({ ...base, exitCode: 139 })).toEqual({
      verdict: 'RE',
      exitCode: 139,
      signal: 'SIGSEGV',
    });
  });
});
