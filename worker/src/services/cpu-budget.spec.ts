import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { CpuBudget, type CpuStage } from './cpu-budget.js';

describe('CpuBudget', () => {
  /** The sandbox's CPU time: `usage` plus `rate` ms of CPU per ms of (fake) time since `since`. */
  let usage: number;
  let rate: number;
  let since: number;
  let reads: number;
  let hits: CpuStage[];
  const read = (): number | null => {
    reads++;
    return usage + rate * (Date.now() - since);
  };
  const burn = (r: number) => {
    usage += rate * (Date.now() - since);
    since = Date.now();
    rate = r;
  };
  const make = (cpus = 1) => new CpuBudget(read, cpus, (stage) => hits.push(stage));

  beforeEach(() => {
    jest.useFakeTimers();
    usage = 30; // a warm sandbox's runner used some before the run
    rate = 0;
    since = Date.now();
    reads = 0;
    hits = [];
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('stops a stage at its budget, counting all CPUs from the stage start', async () => {
    const b = make(2);
    b.begin('run', 1000);
    await jest.advanceTimersByTimeAsync(0);
    burn(2); // two threads busy
    await jest.advanceTimersByTimeAsync(490);
    expect(hits).toEqual([]);
    await jest.advanceTimersByTimeAsync(30);
    expect(hits).toEqual(['run']);
    expect(b.settle()).toBe('run');
  });

  it("reads a sleeping program's CPU time once per budget of wall time, not at a fixed rate", async () => {
    const b = make(1);
    b.begin('run', 2000);
    await jest.advanceTimersByTimeAsync(0);
    burn(0.001);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(hits).toEqual([]);
    expect(reads).toBeLessThanOrEqual(60_000 / 2000 + 2);
    expect(b.settle()).toBeNull();
  });

  it('gives each stage its own budget', async () => {
    const b = make(1);
    b.begin('compile', 500);
    await jest.advanceTimersByTimeAsync(0);
    burn(1);
    await jest.advanceTimersByTimeAsync(400);
    b.begin('run', 500); // the compiler's 400 ms do not count against the run
    await jest.advanceTimersByTimeAsync(400);
    expect(hits).toEqual([]);
    await jest.advanceTimersByTimeAsync(120);
    expect(hits).toEqual(['run']);
  });

  it('reports a compile stage that used up its budget', async () => {
    const b = make(1);
    b.begin('compile', 300);
    await jest.advanceTimersByTimeAsync(0);
    burn(1);
    await jest.advanceTimersByTimeAsync(320);
    expect(hits).toEqual(['compile']);
    expect(b.settle()).toBe('compile');
  });

  it('catches an overrun between two checks in the final account', async () => {
    const b = make(1);
    b.begin('run', 1000);
    await jest.advanceTimersByTimeAsync(0);
    burn(0.5);
    await jest.advanceTimersByTimeAsync(1200); // 600 ms used: the next check is 400 ms away
    burn(0);
    usage += 500; // a burst (e.g. a CFS period's slack) just before the exit
    expect(b.settle()).toBe('run');
    expect(hits).toEqual([]); // not killed: the program had ended
  });

  it('checks nothing where the CPU time cannot be measured', async () => {
    const b = new CpuBudget(
      () => null,
      1,
      (s) => hits.push(s),
    );
    b.begin('run', 100);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(hits).toEqual([]);
    expect(b.settle()).toBeNull();
  });

  it('stops checking once stopped', async () => {
    const b = make(1);
    b.begin('run', 100);
    await jest.advanceTimersByTimeAsync(0);
    burn(1);
    b.stop();
    await jest.advanceTimersByTimeAsync(1000);
    expect(hits).toEqual([]);
  });
});
