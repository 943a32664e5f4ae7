import type { LanguageInfo, RunResult, Verdict } from '@coderoom/contracts';

/** Where the current run is, as the page shows it. */
export type RunPhase = 'idle' | 'starting' | 'queued' | 'compiling' | 'running' | 'finished';

export type VerdictTone = 'ok' | 'bad' | 'warn' | 'neutral';

/**
 * The status line: `queued (position 2)`, `compiling`, `running 1.2 s` (`elapsedMs` since the
 * page saw the run start running).
 */
export function statusLabel(
  phase: RunPhase,
  position: number | null,
  elapsedMs: number | null = null,
): string {
  switch (phase) {
    case 'idle':
      return 'ready';
    case 'starting':
      return 'submitting…';
    case 'queued':
      return position === null ? 'queued' : `queued (position ${position})`;
    case 'compiling':
      return 'compiling…';
    case 'running':
      return elapsedMs === null ? 'running' : `running ${(elapsedMs / 1000).toFixed(1)} s`;
    case 'finished':
      return 'finished';
  }
}

const VERDICTS: Record<Verdict, { tone: VerdictTone; text: string }> = {
  OK: { tone: 'ok', text: 'finished normally' },
  AC: { tone: 'ok', text: 'accepted' },
  WA: { tone: 'bad', text: 'wrong answer' },
  CE: { tone: 'bad', text: 'compile error' },
  RE: { tone: 'bad', text: 'runtime error' },
  TLE: { tone: 'warn', text: 'time limit exceeded' },
  MLE: { tone: 'warn', text: 'memory limit exceeded' },
  OLE: { tone: 'warn', text: 'output limit exceeded' },
  SE: { tone: 'bad', text: 'system error' },
  CANCELLED: { tone: 'neutral', text: 'cancelled' },
};

export function verdictTone(v: Verdict): VerdictTone {
  return VERDICTS[v]?.tone ?? 'bad';
}

export function verdictText(v: Verdict): string {
  return VERDICTS[v]?.text ?? v;
}

/** "12 ms · exit code 0 · 3.1 MiB", the facts shown next to the verdict badge. */
export function resultSummary(r: RunResult): string {
  const parts = [formatMs(r.timeMs)];
  if (r.signal) parts.push(`signal ${r.signal}`);
  else if (r.exitCode !== null) parts.push(`exit code ${r.exitCode}`);
  if (r.memoryKb !== null) parts.push(formatKb(r.memoryKb));
  if (r.truncated) parts.push('output truncated');
  return parts.join(' · ');
}

/**
 * "5 s · 4 s CPU · 256 MiB · 64 KiB output · compile 15 s", what a run of this language may
 * use (from languages:list; a gateway older than these fields gives only the CPU time).
 */
export function limitsSummary(l: LanguageInfo): string {
  const { wallMs, cpuMs, memoryMb, outputBytes, compileWallMs } = l.limits;
  const parts: string[] = [];
  if (wallMs !== undefined) parts.push(formatSeconds(wallMs));
  parts.push(`${formatSeconds(cpuMs)} CPU`);
  if (memoryMb !== undefined) parts.push(`${memoryMb} MiB`);
  if (outputBytes !== undefined) parts.push(`${formatKb(Math.floor(outputBytes / 1024))} output`);
  if (compileWallMs) parts.push(`compile ${formatSeconds(compileWallMs)}`);
  return parts.join(' · ');
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function formatKb(kb: number): string {
  return kb < 1024 ? `${kb} KiB` : `${(kb / 1024).toFixed(1)} MiB`;
}
