import { mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { CoderoomClient, Role, Session } from '@coderoom/sdk';
import { startStack, type Stack } from '../../../server/test/harness.js';
import {
  DIST,
  SHOTS,
  launchChromium,
  sdkClientOf,
  seriousA11yViolations,
  until,
  waitOrExplainOn,
} from './browser.js';

/**
 * The instructor's screens against the real stack: the problem picker on `#/teach`, then the
 * dashboard with three students (SDK clients in this process: the dashboard is what is tested)
 * who submit: the class summary names the test that fails most, the grid sorts and filters
 * (keyboard too), a followed student's run streams into the pane with their program, and the
 * results download as CSV.
 */
/** Users are new on every run: the test database is kept between runs. */
const RUN = Date.now().toString(36);
const TEACHER = `ms-lee-${RUN}`;

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let teacher: Page;
const pageErrors: string[] = [];
const clients: CoderoomClient[] = [];
const students = new Map<string, Session>();
let problemId = '';

beforeAll(async () => {
  stack = await startStack({
    name: 'web-dashboard',
    redisDb: 54,
    gatewayEnv: { STATIC_DIR: DIST },
  });
  browser = await launchChromium();
  mkdirSync(SHOTS, { recursive: true });
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await context?.close().catch(() => undefined);
  await browser?.close();
  await stack?.stop();
}, 30_000);

const sdkClient = (name: string, role: Role) => sdkClientOf(stack.url, name, role, clients);

function waitOrExplain(page: Page, selector: string, hasText?: string, timeout = 20_000) {
  return waitOrExplainOn(page, () => stack.logs(), selector, hasText, timeout);
}

const rowNames = (page: Page) =>
  page
    .locator('[data-testid="student-row"]')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name')));

/** Prints its input twice: right on every test. */
const RIGHT = 'x = input()\nprint(x)\nprint(x)\n';
/** Right unless the input is the hidden test's: fails test 2 only. */
const ALMOST = 'x = input()\nprint(x)\nprint(x if x != "HIDDEN" else "no")\n';
/** Prints its input once: fails every test. */
const WRONG = 'print(input())\n';

describe("the instructor's dashboard", () => {
  it("the teach screen lists the instructor's own problems to pick from", async () => {
    const author = await sdkClient(TEACHER, 'instructor');
    const tests = [
      { stdin: 'a\n', expected: 'a\na\n' },
      { stdin: 'HIDDEN\n', expected: 'HIDDEN\nHIDDEN\n', hidden: true },
      { stdin: 'zz\n', expected: 'zz\nzz\n' },
    ];
    const echo = await author.createProblem({
      title: 'Echo twice',
      statement: 'Print your input **twice**.',
      languages: ['python'],
      tests,
    });
    problemId = echo.problemId;
    await author.createProblem({ title: 'Not today', statement: '', tests: tests.slice(0, 1) });

    context = await browser.newContext({
      viewport: { width: 1400, height: 900 },
      colorScheme: 'light',
    });
    teacher = await context.newPage();
    teacher.on('pageerror', (e) => pageErrors.push(e.message));
    await teacher.goto(`${stack.url}/?name=${TEACHER}&role=instructor#/teach`);
    await waitOrExplain(teacher, '[data-testid="pick-problem"]');
    const titles = await teacher
      .locator('[data-testid="pick-problem"]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-title')));
    expect(titles).toEqual(['Not today', 'Echo twice']); // newest first
    expect(await seriousA11yViolations(teacher)).toEqual([]);

    await teacher.fill('[data-testid="session-title-input"]', 'Echo lab');
    await teacher.locator('[data-testid="pick-problem"][data-title="Echo twice"]').check();
    await teacher.locator('[data-testid="with-problem"]').uncheck();
    await teacher.click('[data-testid="create-session"]');
    await waitOrExplain(teacher, '[data-testid="dashboard-grid"]');
    await waitOrExplain(teacher, `[data-testid="summary-problem"][data-problem="${problemId}"]`);
  }, 90_000);

  it("shows who solved the problem and which test fails most, from the students' submissions", async () => {
    const joinCode = (await teacher.locator('[data-testid="join-code-shown"]').innerText()).trim();
    for (const [name, source] of [
      ['ann', RIGHT],
      ['bob', ALMOST],
      ['cyd', WRONG],
    ] as const) {
      const client = await sdkClient(`${name}-${RUN}`, 'student');
      const session = await client.joinSession(joinCode);
      students.set(name, session);
      const run = await session.run({ mode: 'submit', problemId, language: 'python', source });
      await run.result;
    }
    const summary = `[data-testid="summary-problem"][data-problem="${problemId}"]`;
    // Test 2 (hidden): bob's and cyd's latest submissions fail it.
    const fails = 'Fails most: test 2 (hidden), 2 of 3 latest submissions';
    await waitOrExplain(
      teacher,
      `${summary}[data-solved="1"][data-most-failing="1"]`,
      fails,
      60_000,
    );
    for (const [name, verdict] of [
      ['ann', 'AC'],
      ['bob', 'WA'],
      ['cyd', 'WA'],
    ]) {
      await waitOrExplain(
        teacher,
        `[data-testid="student-row"][data-name="${name}-${RUN}"] [data-testid="last-verdict"][data-verdict="${verdict}"]`,
      );
    }
    // After a reload the summary is the same: the snapshot carries each submission's tests.
    await teacher.reload();
    await waitOrExplain(teacher, `${summary}[data-solved="1"][data-most-failing="1"]`, fails);
    expect(await seriousA11yViolations(teacher)).toEqual([]);
  }, 180_000);

  it('sorts by any column both ways and filters by name and state, by keyboard too', async () => {
    const n = (s: string) => `${s}-${RUN}`;
    await until(
      'rows by name',
      () => rowNames(teacher),
      (r) => r.join() === [n('ann'), n('bob'), n('cyd')].join(),
    );
    // Score: highest first (ann 3, bob 2, cyd 0), then the other way.
    await teacher.click('[data-testid="sort-score"]');
    expect(await rowNames(teacher)).toEqual([n('ann'), n('bob'), n('cyd')]);
    expect(
      await teacher.locator('th:has([data-testid="sort-score"])').getAttribute('aria-sort'),
    ).toBe('ascending');
    // The keyboard: the sort buttons are in the tab order; Enter sorts the other way.
    await teacher.locator('[data-testid="sort-score"]').focus();
    await teacher.keyboard.press('Enter');
    expect(await rowNames(teacher)).toEqual([n('cyd'), n('bob'), n('ann')]);
    expect(
      await teacher.locator('th:has([data-testid="sort-score"])').getAttribute('aria-sort'),
    ).toBe('descending');
    await teacher.click('[data-testid="sort-name"]');
    expect(await rowNames(teacher)).toEqual([n('ann'), n('bob'), n('cyd')]);

    await teacher.fill('[data-testid="filter-name"]', 'CY');
    expect(await rowNames(teacher)).toEqual([n('cyd')]);
    await teacher.fill('[data-testid="filter-name"]', '');
    await teacher.locator('[data-testid="filter-state"]').focus();
    await teacher.selectOption('[data-testid="filter-state"]', 'not-solved');
    expect(await rowNames(teacher)).toEqual([n('bob'), n('cyd')]);
    await teacher.selectOption('[data-testid="filter-state"]', 'all');
    expect(await rowNames(teacher)).toHaveLength(3);
  }, 60_000);

  it("follows a student: their run's output streams into the pane, with their program", async () => {
    const bob = students.get('bob')!;
    const row = `[data-testid="student-row"][data-name="bob-${RUN}"]`;
    await teacher.click(`${row} [data-testid="follow-button"]`);
    await waitOrExplain(teacher, '[data-testid="follow-pane"]');
    // His latest run (the submission) is shown at first, with its program.
    await waitOrExplain(teacher, '[data-testid="student-code"]', 'HIDDEN');

    const source =
      'import time\nfor i in range(15):\n    print("tick", i, flush=True)\n    time.sleep(0.15)\n';
    const run = await bob.run({ language: 'python', source });
    const pane = teacher.locator('[data-testid="follow-pane"]');
    await waitOrExplain(teacher, `[data-testid="follow-pane"][data-run="${run.id}"]`);
    // Live: a first line is on screen while the program still runs.
    const rows = () => pane.locator('[data-testid="output"] .xterm-rows').innerText();
    await until('a first tick', rows, (t) => t.includes('tick 0'), 30_000);
    expect(run.done).toBe(false);
    await waitOrExplain(teacher, '[data-testid="student-code"]', 'range(15)');
    await teacher.screenshot({ path: `${SHOTS}/dashboard-follow.png` });
    expect(await seriousA11yViolations(teacher)).toEqual([]);
    await run.result;
    await until('every tick', rows, (t) => t.includes('tick 14'), 30_000);
    await waitOrExplain(
      teacher,
      '[data-testid="follow-pane"] [data-testid="verdict"][data-verdict="OK"]',
    );
    // Every line once, in order: the pane's Download has the whole transcript (the terminal
    // shows only what fits).
    const download = teacher.waitForEvent('download');
    await pane.locator('[data-testid="download-output"]').click();
    const text = readFileSync(await (await download).path(), 'utf8');
    expect(text).toBe(Array.from({ length: 15 }, (_, i) => `tick ${i}\n`).join(''));

    // Dark too (it follows the system).
    await teacher.emulateMedia({ colorScheme: 'dark' });
    await until(
      'the dark theme',
      () => teacher.evaluate(() => getComputedStyle(document.body).backgroundColor),
      (bg) => bg !== 'rgb(255, 255, 255)',
    );
    expect(await seriousA11yViolations(teacher)).toEqual([]);
    await teacher.screenshot({ path: `${SHOTS}/dashboard-follow-dark.png` });
    await teacher.emulateMedia({ colorScheme: 'light' });
    await teacher.click('[data-testid="unfollow"]');
    expect(await pane.count()).toBe(0);
  }, 90_000);

  it("downloads the results as CSV with the instructor's token", async () => {
    const download = teacher.waitForEvent('download');
    await teacher.click('[data-testid="export-csv"]');
    const file = await (await download).path();
    const csv = readFileSync(file, 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    expect(lines).toHaveLength(4); // a header and one line per student (one problem)
    expect(lines.find((l) => l.includes(`ann-${RUN}`))).toMatch(/,3,3,1,\d{4}-/);
    expect(lines.find((l) => l.includes(`cyd-${RUN}`))).toMatch(/,0,3,1,/);
  }, 30_000);

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
