/**
 * Per-run stage timestamps for profiling (deploy/bench/trace.mjs), off unless TRACE_RUNS=1:
 * one line `TRACE <stage> <runId> <epoch ms, µs precision>` on stderr per stage, cheap enough to
 * leave in place and comparable across processes on one machine.
 */
const enabled = process.env.TRACE_RUNS === '1';

export function traceRun(stage: string, runId: string): void {
  if (!enabled) return;
  const at = performance.timeOrigin + performance.now();
  process.stderr.write(`TRACE ${stage} ${runId} ${at.toFixed(3)}\n`);
}
