import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import {
  type CoderoomClient,
  CoderoomError,
  type Role,
  type Run,
  type Session,
} from '@coderoom/sdk';
import { startStack, type Stack } from '../../../server/test/harness.js';
import {
  DIST,
  launchChromium,
  sdkClientOf,
  startTaskTrace,
  stopTaskTrace,
  until,
  waitOrExplainOn,
} from './browser.js';

/**
 * Sixty students submit at once (SDK clients in this process) while the instructor's dashboard
 * is open in Chromium: the page stays smooth (no main-thread task of 100 ms or more) and shows
 * every student's final verdict and score.
 */
const STUDENTS = 60;
/** Users are new on every run: the test database is kept between runs. */
const RUN = Date.now().toString(36);
const TEACHER = `coach-${RUN}`;

let stack: Stack;
let browser: Browser;
let page: Page;
const clients: CoderoomClient[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  stack = await startStack({
    name: 'web-class60',
    redisDb: 57,
    // Sixty submissions at once queue for a while on a small machine: admit them all (the
    // students' retry on BUSY is also exercised below if a machine is slower still).
    gatewayEnv: { STATIC_DIR: DIST, BUSY_WAIT_MS: '600000' },
  });
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await browser?.close();
  await stack?.stop();
}, 60_000);

const sdkClient = (name: string, role: Role) => sdkClientOf(stack.url, name, role, clients);

/** A submission, tried again after `BUSY`/`RATE_LIMITED` as a patient student would. */
async function submit(session: Session, problemId: string, source: string): Promise<Run> {
  for (;;) {
    try {
      return await session.run({ mode: 'submit', problemId, language: 'python', source });
    } catch (e) {
      if (!(e instanceof CoderoomError) || (e.code !== 'BUSY' && e.code !== 'RATE_LIMITED')) {
        throw e;
      }
      await new Promise((r) => setTimeout(r, e.retryAfterMs ?? 1000));
    }
  }
}

describe('a class of 60 on the dashboard', () => {
  it('stays smooth while 60 students submit, and shows every final state right', async () => {
    const coach = await sdkClient(TEACHER, 'instructor');
    const problem = await coach.createProblem({
      title: 'Double it',
      statement: 'Print twice the number read.',
      languages: ['python'],
      tests: [
        { stdin: '21\n', expected: '42\n', points: 1 },
        { stdin: '5\n', expected: '10\n', points: 1, hidden: true },
      ],
    });
    const session = await coach.createSession({
      title: 'Big class',
      problemIds: [problem.problemId],
    });

    const names = Array.from(
      { length: STUDENTS },
      (_, i) => `s${String(i).padStart(2, '0')}-${RUN}`,
    );
    const sessions = await Promise.all(
      names.map(async (name) => (await sdkClient(name, 'student')).joinSession(session.joinCode!)),
    );

    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${stack.url}/?name=${TEACHER}&role=instructor#/dashboard/${session.id}`);
    await waitOrExplainOn(page, () => stack.logs(), '[data-testid="dashboard-grid"]');
    await until(
      'sixty rows',
      () => page.locator('[data-testid="student-row"]').count(),
      (n) => n === STUDENTS,
      30_000,
      250,
    );

    // Long tasks as the page sees them (wall clock), and Chromium's trace for their CPU time:
    // on a shared 2-core machine wall-clock time is stretched by other processes (see README,
    // "Measured"), so the budget is checked on CPU time and the observer's numbers are printed.
    await page.evaluate(() => {
      const w = window as unknown as { longTasks: number[] };
      w.longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.longTasks.push(e.duration);
      }).observe({ type: 'longtask' });
    });
    await startTaskTrace(browser, page);

    // Even students are right (AC, 2/2), odd ones print the number once (WA, 0/2).
    const started = Date.now();
    const runs = await Promise.all(
      sessions.map((s, i) =>
        submit(
          s,
          problem.problemId,
          i % 2 === 0 ? 'print(2 * int(input()))\n' : 'print(input())\n',
        ),
      ),
    );
    const results = await Promise.all(runs.map((r) => r.result));
    const submittedMs = Date.now() - started;
    expect(results.map((r) => r.verdict)).toEqual(names.map((_, i) => (i % 2 === 0 ? 'AC' : 'WA')));

    // Polled gently: playwright's own selector waiting would run in the page's main thread.
    const shown = () =>
      page.evaluate(() =>
        Array.from(document.querySelectorAll<HTMLElement>('[data-testid="student-row"]')).map(
          (row) => [
            row.dataset.name,
            row.querySelector<HTMLElement>('[data-testid="last-verdict"]')?.dataset.verdict,
            row.querySelector('[data-testid="score"]')?.textContent?.trim().split(' ')[0],
          ],
        ),
      );
    const expected = names.map((n, i) => [
      n,
      i % 2 === 0 ? 'AC' : 'WA',
      i % 2 === 0 ? '2/2' : '0/2',
    ]);
    const final = await until(
      'every final state on the dashboard',
      shown,
      (rows) => JSON.stringify(rows) === JSON.stringify(expected),
      60_000,
      500,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${stack.logs().slice(-4000)}`);
    });
    expect(final).toEqual(expected);
    const summary = await page
      .locator(`[data-testid="summary-problem"][data-problem="${problem.problemId}"]`)
      .getAttribute('data-solved');
    expect(summary).toBe(String(STUDENTS / 2));

    const tasks = await stopTaskTrace(browser);
    const longTasks = await page.evaluate(
      () => (window as unknown as { longTasks: number[] }).longTasks,
    );
    console.log(
      `60 students submitting (${(submittedMs / 1000).toFixed(1)} s until every result): ` +
        `${tasks.count} main-thread tasks, longest ${tasks.maxCpuMs.toFixed(0)} ms CPU ` +
        `(${tasks.maxWallMs.toFixed(0)} ms wall); PerformanceObserver: ${longTasks.length} long ` +
        `tasks, longest ${Math.max(0, ...longTasks).toFixed(0)} ms`,
    );
    expect(tasks.count).toBeGreaterThan(0);
    expect(tasks.maxCpuMs).toBeLessThan(100);
    expect(pageErrors).toEqual([]);
  }, 420_000);
});
