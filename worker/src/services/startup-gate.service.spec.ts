import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { StartupGateService } from './startup-gate.service.js';

describe('StartupGateService', () => {
  let gate: StartupGateService;
  let passed: string[];
  beforeEach(() => {
    jest.useFakeTimers();
    gate = new StartupGateService();
    passed = [];
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  const wait = (name: string, ms: number) => void gate.idle(ms).then(() => passed.push(name));

  it('lets background work through at once when no run is starting', async () => {
    wait('remove', 250);
    await jest.advanceTimersByTimeAsync(0);
    expect(passed).toEqual(['remove']);
  });

  it('holds it while runs start, until the last one printed', async () => {
    const a = gate.begin();
    const b = gate.begin();
    wait('refill', 100);
    await jest.advanceTimersByTimeAsync(10);
    a();
    a(); // twice counts once
    await jest.advanceTimersByTimeAsync(10);
    expect(passed).toEqual([]);
    b();
    await jest.advanceTimersByTimeAsync(0);
    expect(passed).toEqual(['refill']);
  });

  it('never holds it longer than asked (some run is always starting under load)', async () => {
    const a = gate.begin();
    wait('refill', 100);
    wait('remove', 250);
    await jest.advanceTimersByTimeAsync(99);
    expect(passed).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(passed).toEqual(['refill']);
    await jest.advanceTimersByTimeAsync(150);
    expect(passed).toEqual(['refill', 'remove']);
    a();
    await jest.advanceTimersByTimeAsync(0);
    expect(passed).toEqual(['refill', 'remove']); // each passed once
  });
});
