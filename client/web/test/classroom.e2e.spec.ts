import { mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { REPO, startStack, type Stack } from '../../../server/test/harness.js';
import { launchChromium, seriousA11yViolations, until, waitOrExplainOn } from './browser.js';

/**
 * The classroom screens against the real stack: an instructor and two students, each in a
 * browser context of their own (own storage, own socket), in one session.
 */
const DIST = `${REPO}client/web/dist`;
const SHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? `${REPO}client/web/screenshots`
    : `${REPO}.local/screenshots`;

let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];
let teacher: Page;
let ann: Page;
let bob: Page;
let joinCode = '';

beforeAll(async () => {
  stack = await startStack({
    name: 'web-classroom',
    redisDb: 29,
    gatewayEnv: { STATIC_DIR: DIST },
  });
  browser = await launchChromium();
  mkdirSync(SHOTS, { recursive: true });
}, 90_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await stack?.stop();
}, 30_000);

async function openPage(query: string, hash: string): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    colorScheme: 'light',
  });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${stack.url}/?${query}#${hash}`);
  await waitOrExplain(page, '[data-testid="connection"][data-state="connected"]');
  return page;
}

function waitOrExplain(
  page: Page,
  selector: string,
  hasText?: string,
  timeout = 20_000,
): Promise<void> {
  return waitOrExplainOn(page, () => stack.logs(), selector, hasText, timeout);
}

/** The shared editor's text, without the collaborators' cursor widgets. */
function editorText(page: Page): Promise<string> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('[data-testid="shared-editor"] .cm-line'))
      .map((line) => {
        const copy = line.cloneNode(true) as HTMLElement;
        for (const w of Array.from(
          copy.querySelectorAll('.cm-ySelectionCaret, .cm-ySelectionInfo'),
        ))
          w.remove();
        return copy.textContent ?? '';
      })
      .join('\n'),
  );
}

/** The page in the dark theme (it follows the system): axe, a screenshot, then light again. */
async function darkToo(page: Page, shot: string): Promise<void> {
  await page.emulateMedia({ colorScheme: 'dark' });
  await until(
    'the dark theme',
    () => page.evaluate(() => getComputedStyle(document.body).backgroundColor),
    (bg) => bg !== 'rgb(255, 255, 255)',
  );
  expect(await seriousA11yViolations(page)).toEqual([]);
  await page.screenshot({ path: `${SHOTS}/${shot}.png` });
  await page.emulateMedia({ colorScheme: 'light' });
}

async function joinAs(name: string): Promise<Page> {
  const page = await openPage(`name=${name}`, '/join');
  await page.fill('[data-testid="join-code"]', joinCode.toLowerCase());
  await page.click('[data-testid="join-button"]');
  await waitOrExplain(page, '[data-testid="doc-state"][data-synced="true"]');
  return page;
}

describe('a class in session: an instructor and two students', () => {
  it('the instructor creates a session with a problem (a hidden test), and sees its join code', async () => {
    teacher = await openPage('name=teacher&role=instructor', '/teach');
    await teacher.fill('[data-testid="session-title-input"]', 'CS101 week 1');
    await teacher.fill('[data-testid="problem-title"]', 'Sum of two numbers');
    await teacher.fill(
      '[data-testid="problem-statement"]',
      'Read `a` and `b`, print **a + b**.\n\n<img src=x onerror="window.__xss=1">',
    );
    await teacher.selectOption('[data-testid="problem-language"]', 'python');
    const rows = teacher.locator('[data-testid="test-row"]');
    await rows.nth(0).locator('[data-testid="test-stdin"]').fill('1 2\n');
    await rows.nth(0).locator('[data-testid="test-expected"]').fill('3\n');
    await teacher.click('[data-testid="add-test"]');
    await rows.nth(1).locator('[data-testid="test-stdin"]').fill('40 2\n');
    await rows.nth(1).locator('[data-testid="test-expected"]').fill('42\n');
    await rows.nth(1).locator('[data-testid="test-points"]').fill('2');
    await rows.nth(1).locator('[data-testid="test-hidden"]').check();
    expect(await seriousA11yViolations(teacher)).toEqual([]);
    await teacher.click('[data-testid="create-session"]');
    await waitOrExplain(teacher, '[data-testid="join-code-shown"]');
    await waitOrExplain(teacher, '[data-testid="dashboard-grid"]');
    joinCode = (await teacher.locator('[data-testid="join-code-shown"]').innerText()).trim();
    expect(joinCode).toMatch(/^[A-Z0-9]{4,}$/);
  }, 60_000);

  it('two students join with the code, see each other online, and the sanitized statement', async () => {
    ann = await joinAs('ann');
    expect(await seriousA11yViolations(ann)).toEqual([]);
    bob = await joinAs('bob');
    for (const [page, other] of [
      [ann, 'bob'],
      [bob, 'ann'],
    ] as const) {
      await waitOrExplain(page, `[data-testid="member"][data-name="${other}"][data-online="true"]`);
    }
    const statement = ann.locator('[data-testid="statement"]');
    expect(await statement.locator('strong').innerText()).toBe('a + b');
    expect(await statement.locator('[onerror]').count()).toBe(0);
    expect(
      await ann.evaluate(() => (window as unknown as { __xss?: number }).__xss),
    ).toBeUndefined();
  }, 60_000);

  it("the students co-edit the shared program and see each other's text and cursor", async () => {
    await ann.locator('[data-testid="shared-editor"]').click();
    await ann.keyboard.insertText('a, b = map(int, input().split())\n');
    await until(
      "bob to see ann's line",
      () => editorText(bob),
      (t) => t.includes('input().split()'),
    );
    await bob.locator('[data-testid="shared-editor"]').click();
    await bob.keyboard.press('ControlOrMeta+End');
    await bob.keyboard.insertText('print(a + b)');
    const both = 'a, b = map(int, input().split())\nprint(a + b)';
    await until(
      "ann to see bob's line",
      () => editorText(ann),
      (t) => t === both,
    );
    expect(await editorText(bob)).toBe(both);
    // Bob's cursor, with his name, in ann's editor (awareness).
    await waitOrExplain(ann, '.cm-ySelectionInfo', 'bob');
    await ann.screenshot({ path: `${SHOTS}/session-presence.png` });
    expect(await seriousA11yViolations(ann)).toEqual([]);
    await darkToo(ann, 'session-presence-dark');
  }, 60_000);

  it("a student's submission shows per-test results to her (hidden test: verdict and points) and on the dashboard", async () => {
    await ann.click('[data-testid="submit-button"]');
    await waitOrExplain(ann, '[data-testid="submission-verdict"]', 'AC', 90_000);
    const results = ann.locator('[data-testid="test-result"]');
    expect(await results.count()).toBe(2);
    expect(await results.nth(0).getAttribute('data-verdict')).toBe('AC');
    expect(await results.nth(1).getAttribute('data-hidden')).toBe('true');
    expect(await results.nth(1).innerText()).toContain('2/2 points');
    expect(await results.nth(1).locator('details').count()).toBe(0);
    await ann.screenshot({ path: `${SHOTS}/session-submission.png` });

    const row = teacher.locator('[data-testid="student-row"][data-name="ann"]');
    await waitOrExplain(
      teacher,
      '[data-testid="student-row"][data-name="ann"] [data-testid="last-verdict"][data-verdict="AC"]',
    );
    await until(
      "ann's tests on the dashboard",
      () =>
        row
          .locator('[data-testid="dash-test"]')
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-verdict'))),
      (v) => v.length === 2 && v.every((x) => x === 'AC'),
    );
    await until(
      "ann's score",
      () => row.locator('[data-testid="score"]').innerText(),
      (t) => t.startsWith('3/3'),
    );
    expect(
      await teacher
        .locator('[data-testid="student-row"][data-name="bob"] [data-testid="score"]')
        .innerText(),
    ).toBe('—');
    await teacher.screenshot({ path: `${SHOTS}/dashboard.png` });
    expect(await seriousA11yViolations(teacher)).toEqual([]);
    await darkToo(teacher, 'dashboard-dark');
  }, 120_000);

  it('Run runs the shared program in the session: its output in the terminal, then the verdict', async () => {
    await bob.click('[data-testid="session-run"]');
    // No input given: input() meets end of file, Python's traceback goes to stderr.
    await waitOrExplain(bob, '[data-testid="verdict"]');
    await until(
      'the traceback in the terminal',
      () => bob.locator('[data-testid="output"] .xterm-rows').innerText(),
      (t) => t.includes('EOFError'),
    );
  }, 60_000);

  it("a locked document refuses the students' typing; unlocked, it takes it again", async () => {
    const before = await editorText(ann);
    await teacher.click('[data-testid="lock-button"]');
    await waitOrExplain(teacher, '[data-testid="lock-button"][aria-pressed="true"]');
    // The server announces no lock: bob learns it when his edit is refused (or at his next
    // read of the session). Either way his text is not kept, and the editor becomes read-only.
    await bob.locator('[data-testid="shared-editor"]').click();
    await bob.keyboard.press('ControlOrMeta+End');
    await bob.keyboard.type('#x');
    await waitOrExplain(bob, '[data-testid="session-locked"]');
    await until(
      "bob's refused edit to be gone",
      () => editorText(bob),
      (t) => t === before,
    );
    await bob.locator('[data-testid="shared-editor"]').click();
    await bob.keyboard.press('ControlOrMeta+End');
    await bob.keyboard.type('# still locked');
    expect(await editorText(bob)).toBe(before);
    expect(await editorText(ann)).toBe(before);
    await bob.screenshot({ path: `${SHOTS}/session-locked.png` });

    await teacher.click('[data-testid="lock-button"]');
    await until(
      'bob to see the session unlocked',
      () => bob.locator('[data-testid="session-locked"]').count(),
      (n) => n === 0,
    );
    await bob.locator('[data-testid="shared-editor"]').click();
    await bob.keyboard.press('ControlOrMeta+End');
    await bob.keyboard.insertText('\n# open again');
    await until(
      "ann to see bob's edit",
      () => editorText(ann),
      (t) => t === `${before}\n# open again`,
    );
  }, 60_000);

  it('the instructor broadcasts code to everyone, then closes the session', async () => {
    await teacher.locator('summary', { hasText: 'Broadcast code' }).click();
    await teacher.fill('[data-testid="broadcast-text"]', 'print("from the teacher")');
    await teacher.click('[data-testid="broadcast-button"]:not([disabled])');
    for (const p of [ann, bob]) {
      await waitOrExplain(p, '[data-testid="broadcast"]', 'print("from the teacher")');
    }
    teacher.once('dialog', (d) => void d.accept());
    await teacher.click('[data-testid="close-button"]');
    for (const p of [ann, bob]) await waitOrExplain(p, '[data-testid="session-closed"]');
    expect(await ann.locator('[data-testid="submit-button"]').isDisabled()).toBe(true);
  }, 60_000);

  it('keeps the classroom screens out of the first screen: they are lazy chunks', () => {
    const html = readFileSync(`${DIST}/index.html`, 'utf8');
    const initial = [...html.matchAll(/(?:src|href)="(?:\.?\/)?(assets\/[^"]+\.js)"/g)].map(
      (m) => m[1],
    );
    expect(initial.length).toBeGreaterThan(0);
    for (const f of initial) {
      const js = readFileSync(`${DIST}/${f}`, 'utf8');
      // Yjs and the screens' own code are not in what the first screen loads.
      expect(js).not.toContain('y-codemirror');
      expect(js).not.toContain('Students of the session');
    }
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
