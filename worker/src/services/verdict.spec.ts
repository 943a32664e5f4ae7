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
    // The runner refused the user's files (bad path, a path both file and directory): CE.
    [{ compileExit: null, exitCode: 91 }, 'CE'],
    [{ compileExit: null, exitCode: 92 }, 'CE'],
    // ... but not when its output was broken, nor when the program itself exits 91 or 92.
    [{ compileExit: null, exitCode: 92, protocolError: true }, 'SE'],
    [{ compileExit: 0, exitCode: 92 }, 'RE'],
    // A compile-time bomb: cc1 OOM-killed, gcc exits 1; the program never ran.
    [{ compileExit: 1, oomKilled: true, exitCode: 0 }, 'CE'],
    [{ killedFor: 'COMPILE_TIMEOUT', oomKilled: true, exitCode: 137 }, 'CE'],
    // The kernel killed for memory first, then our limits fired: still MLE.
    [{ killedFor: 'OLE', oomKilled: true, exitCode: 137 }, 'MLE'],
    // An OOM kill of a child process the program survived.
    [{ oomKilled: true, exitCode: 0 }, 'MLE'],
    // SIGKILL that was neither ours nor the OOM killer's (the program killed itself).
    [{ exitCode: 137 }, 'RE'],
    [{ protocolError: true }, 'SE'],
    // CPU time: our kill, the final account, or the kernel's RLIMIT_CPU (SIGXCPU = 128 + 24).
    [{ killedFor: 'CPU', cpuExceeded: 'run', exitCode: 137 }, 'TLE'],
    [{ cpuExceeded: 'run', exitCode: 0 }, 'TLE'],
    [{ cpuExceeded: 'run', exitCode: 137 }, 'TLE'], // SIGKILL at RLIMIT_CPU's hard limit
    [{ exitCode: 152 }, 'TLE'],
    [{ killedFor: 'CPU', cpuExceeded: 'compile', compileExit: null, exitCode: 137 }, 'CE'],
    [{ cpuExceeded: 'compile', compileExit: 152, exitCode: 0 }, 'CE'],
    [{ killedFor: 'CPU', cpuExceeded: 'run', oomKilled: true, exitCode: 137 }, 'MLE'],
    [{ killedFor: 'OLE', cpuExceeded: 'run', exitCode: 137 }, 'OLE'], // the first reason wins
    [{ killedFor: 'CANCELLED', cpuExceeded: 'run', exitCode: 137 }, 'CANCELLED'],
    // Docker never reported the end after a kill: the system's failure, whatever the reason.
    [{ killedFor: 'TLE', exitUnknown: true, protocolError: true, exitCode: null }, 'SE'],
    [{ killedFor: 'CANCELLED', exitUnknown: true, protocolError: true }, 'CANCELLED'],
  ])('%j -> %s', (o, verdict) => {
    expect(judge({ ...base, ...o }).verdict).toBe(verdict);
  });

  it('reports the compiler exit code, not a signal, for a compile-time bomb', () => {
    expect(judge({ ...base, compileExit: 1, oomKilled: true, exitCode: 0 })).toEqual({
      verdict: 'CE',
      exitCode: 1,
      signal: null,
    });
  });

  it('tells an OOM kill (MLE) from our wall-clock kill (TLE): both are SIGKILL, exit 137', () => {
    expect(judge({ ...base, oomKilled: true, exitCode: 137 })).toEqual({
      verdict: 'MLE',
      exitCode: 137,
      signal: 'SIGKILL',
    });
    expect(judge({ ...base, killedFor: 'TLE', exitCode: 137 })).toEqual({
      verdict: 'TLE',
      exitCode: 137,
      signal: 'SIGKILL',
    });
  });

  it('names the signal of a program killed by one', () => {
    expect(judge({ ...base, exitCode: 139 })).toEqual({
      verdict: 'RE',
      exitCode: 139,
      signal: 'SIGSEGV',
    });
  });
});
