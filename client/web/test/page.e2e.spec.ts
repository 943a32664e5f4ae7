import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO, startStack, type Stack } from '../../../server/test/harness.js';

let stack: Stack;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  stack = await startStack({
    name: 'web',
    redisDb: 2,
    gatewayEnv: { STATIC_DIR: `${REPO}client/web/dist` },
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage();
}, 90_000);

/** Waits for `selector`; on a timeout, fails with what the page showed and the stack's logs. */
async function waitOrExplain(selector: string, hasText?: string): Promise<void> {
  try {
    await page.locator(selector, hasText ? { hasText } : {}).waitFor({ timeout: 20_000 });
  } catch (err) {
    const shown = await page
      .locator('body')
      .innerText()
      .catch(() => '(page unreadable)');
    throw new Error(
      `${(err as Error).message}\n--- page ---\n${shown}\n--- services ---\n${stack.logs().slice(-6000)}`,
    );
  }
}

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
}, 30_000);

it('runs Python typed in the page and shows its output streaming, then the verdict', async () => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${stack.url}/?name=webtest`);
  await page
    .locator('[data-testid="connection"][data-state="connected"]')
    .waitFor({ timeout: 20_000 });
  await page.selectOption('[data-testid="language-select"]', 'python');
  // What a run may use, as the worker (default limits here) reports it through languages:list.
  expect(await page.locator('[data-testid="limits"]').innerText()).toBe(
    'Limits: 5 s · 4 s CPU · 256 MiB · 64 KiB output',
  );
  await page.fill(
    '[data-testid="editor"]',
    'import time\nfor i in range(4):\n    print("tick", i, flush=True)\n    time.sleep(0.4)\n',
  );
  await page.click('[data-testid="run-button"]');
  // The first line is on screen while the program still runs (no verdict yet).
  await waitOrExplain('[data-testid="output"]', 'tick 0');
  expect(await page.locator('[data-testid="verdict"]').count()).toBe(0);
  await waitOrExplain('[data-testid="verdict"][data-verdict="OK"]');
  expect(await page.locator('[data-testid="output"]').innerText()).toContain(
    'tick 0\ntick 1\ntick 2\ntick 3',
  );
  await page.screenshot({ path: `${REPO}.local/web-run.png` });
  expect(errors).toEqual([]);
}, 60_000);

it('shows a C compile error with its verdict', async () => {
  await page.selectOption('[data-testid="language-select"]', 'c');
  expect(await page.locator('[data-testid="limits"]').innerText()).toBe(
    'Limits: 5 s · 4 s CPU · 256 MiB · 64 KiB output · compile 15 s',
  );
  await page.fill('[data-testid="editor"]', 'int main(void) { return nope; }');
  await page.click('[data-testid="run-button"]');
  await waitOrExplain('[data-testid="verdict"][data-verdict="CE"]');
  expect(await page.locator('[data-testid="output"]').innerText()).toContain('nope');
}, 60_000);
