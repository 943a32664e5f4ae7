import { constants } from 'node:os';
import type { RunTestEvent, Verdict } from '@coderoom/contracts';
import type { Submission } from './submission.js';

/** What happened to a run, as observed by the worker. */
export interface RunOutcome {
  /** Why the worker killed the container, if it did (CPU: a stage used up its CPU time). */
  killedFor: 'TLE' | 'CPU' | 'OLE' | 'CANCELLED' | 'COMPILE_TIMEOUT' | null;
  /** The stage whose CPU-time budget was used up (measured, whoever stopped it), if any. */
  cpuExceeded?: 'compile' | 'run' | null;
  /** Exit code of the compile step, when the runner reported one. */
  compileExit: number | null;
  oomKilled: boolean;
  /** Exit code of the container (the program's, or 128+n for signal n). */
  exitCode: number | null;
  /** The runner's protocol broke (no header): an engine fault, not the program's. */
  protocolError: boolean;
  /** The job's language cannot run on this worker (its image is missing): CE, it never ran. */
  unavailable?: boolean;
  /** Docker never reported the sandbox's exit, even after a kill: its end is unknown (SE). */
  exitUnknown?: boolean;
  /** Peak memory of the sandbox in KiB, when measured (DockerRepository.peakMemoryKb). */
  memoryKb?: number | null;
}

export interface Judgement {
  verdict: Verdict;
  exitCode: number | null;
  signal: string | null;
}

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(constants.signals).map(([name, n]) => [n, name]),
);

/**
 * Exit codes of the sandbox runner (before its compile header) that refuse the user's files: 91
 * a path it will not write, 92 a layout it cannot write (a path both a file and a directory, the
 * same path twice). The gateway refuses those already; if one still gets through, it is the
 * program's fault (CE: it was never run, the reason is on stderr), not the system's (SE). 90
 * (malformed input) is the worker's own fault and stays SE. sandbox/README.md, "runner protocol".
 */
const RUNNER_REFUSED_INPUT = new Set([91, 92]);

/**
 * Order matters:
 * - a cancel wins over everything, then a language this worker cannot run (CE: nothing ran,
 *   the reason is in the compile output), then a sandbox whose end Docker never reported (SE);
 * - a failed or timed-out compilation (wall clock or CPU time) is CE even when the compiler
 *   was OOM-killed (a compile-time bomb): the program itself never ran;
 * - memory wins over time and output: an OOM kill and our own SIGKILL both exit 137, only
 *   Docker's OOMKilled state tells them apart, and once the kernel killed for memory the run is
 *   MLE even if our wall clock or output limit fired afterwards;
 * - our kills (TLE, OLE) win over the exit code they caused;
 * - the runner refusing the user's files is CE (RUNNER_REFUSED_INPUT), its other failures SE;
 * - a run stage that used up its CPU time is TLE however it ended: killed by us, or by the
 *   kernel's RLIMIT_CPU backstop (SIGXCPU, or SIGKILL at the hard limit), or exited just past it
 *   between two checks. Where the CPU time cannot be measured, SIGXCPU alone says so.
 */
export function judge(o: RunOutcome): Judgement {
  const signal =
    o.exitCode !== null && o.exitCode > 128 ? (SIGNAL_NAMES.get(o.exitCode - 128) ?? null) : null;
  const base = { exitCode: o.exitCode, signal };
  if (o.killedFor === 'CANCELLED') return { verdict: 'CANCELLED', ...base };
  if (o.unavailable) return { verdict: 'CE', exitCode: null, signal: null };
  if (o.exitUnknown) return { verdict: 'SE', ...base };
  if (o.killedFor === 'COMPILE_TIMEOUT' || o.cpuExceeded === 'compile') {
    return { verdict: 'CE', ...base };
  }
  if (o.compileExit !== null && o.compileExit !== 0) {
    return { verdict: 'CE', exitCode: o.compileExit, signal: null };
  }
  if (o.oomKilled) return { verdict: 'MLE', ...base };
  if (o.killedFor === 'TLE' || o.killedFor === 'CPU') return { verdict: 'TLE', ...base };
  if (o.killedFor === 'OLE') return { verdict: 'OLE', ...base };
  if (o.cpuExceeded === 'run' || signal === 'SIGXCPU') return { verdict: 'TLE', ...base };
  if (!o.protocolError && o.compileExit === null && RUNNER_REFUSED_INPUT.has(o.exitCode ?? -1)) {
    return { verdict: 'CE', exitCode: o.exitCode, signal: null };
  }
  if (o.protocolError || o.compileExit === null) return { verdict: 'SE', ...base };
  if (o.exitCode === 0) return { verdict: 'OK', exitCode: 0, signal: null };
  return { verdict: 'RE', ...base };
}

/** What a graded submission adds to its result (RunResult's submit-mode fields). */
export interface SubmissionJudgement extends Judgement {
  score: number;
  maxScore: number;
  tests: RunTestEvent[];
}

/**
 * A submission (tests mode): what ended the sandbox first, as `judge` sees it (a cancel, an
 * engine failure, a failed compilation), then its tests: `AC` when every test passed, else the
 * first failing test's verdict (by index). A sandbox that ended before every test had its
 * verdict is `SE`, unless the worker's per-test clock or the OOM killer stopped a test (that
 * test then got its TLE or MLE: see SandboxRun) and the verdict is the first failing test's. The
 * runner must exit 0 after the last test, else the run is `SE` (it did not end as it should).
 */
export function judgeSubmission(o: RunOutcome, s: Submission): SubmissionJudgement {
  const graded = s.verdict();
  const base = { score: graded.score, maxScore: graded.maxScore, tests: s.tests() };
  const container = judge(o);
  if (
    container.verdict === 'CANCELLED' ||
    container.verdict === 'CE' ||
    o.exitUnknown ||
    o.protocolError ||
    o.compileExit === null
  ) {
    const verdict =
      container.verdict === 'CE' || container.verdict === 'CANCELLED' ? container.verdict : 'SE';
    return { ...container, verdict, ...base, score: verdict === 'CE' ? 0 : base.score };
  }
  const stoppedEarly = o.killedFor === 'TLE' || o.oomKilled;
  const clean = s.complete ? o.exitCode === 0 : stoppedEarly && graded.first !== null;
  if (!clean) return { verdict: 'SE', exitCode: o.exitCode, signal: container.signal, ...base };
  return { verdict: graded.verdict, exitCode: null, signal: null, ...base };
}
