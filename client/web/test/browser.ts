import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CoderoomClient, fetchDevToken, type Role } from '@coderoom/sdk';
import { REPO } from '../../../server/test/harness.js';

/** The built client the tests' gateways serve (`STATIC_DIR`). */
export const DIST = `${REPO}client/web/dist`;
/**
 * Screenshots go to .local/screenshots (ignored by git), or, with UPDATE_SCREENSHOTS=1, to the
 * committed ones that README.md shows: a test run does not leave the work tree changed.
 */
export const SHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? `${REPO}client/web/screenshots`
    : `${REPO}.local/screenshots`;

/** Debian's Chromium; playwright never downloads a browser here. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
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
}

const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** Runs axe-core on the page; returns the serious and critical violations. */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window)))
    await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    interface AxeResult {
      violations: {
        id: string;
        impact: string | null;
        help: string;
        nodes: { target: unknown[] }[];
      }[];
    }
    const axe = (window as unknown as { axe: { run(): Promise<AxeResult> } }).axe;
    const { violations } = await axe.run();
    return violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => JSON.stringify(n.target)),
      }));
  });
}

/** The rows the terminal shows (its viewport), as text. */
export function terminalRows(page: Page): Promise<string> {
  return page.locator('[data-testid="output"] .xterm-rows').innerText();
}

/** Replaces the program in the editor, as a paste would (no auto-indent or bracket closing). */
export async function setProgram(page: Page, code: string): Promise<void> {
  await page.locator('.cm-content').click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.insertText(code);
}

/** Records the renderer's main-thread tasks (Chromium tracing) until `stopTaskTrace`. */
export async function startTaskTrace(browser: Browser, page: Page): Promise<void> {
  await browser.startTracing(page, {
    categories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline'],
  });
}

interface TraceEvent {
  name: string;
  pid: number;
  tid: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
}

/** How many tasks ran on the renderer's main thread, and the longest in CPU and wall time. */
export async function stopTaskTrace(
  browser: Browser,
): Promise<{ count: number; maxCpuMs: number; maxWallMs: number }> {
  const { traceEvents } = JSON.parse((await browser.stopTracing()).toString()) as {
    traceEvents: TraceEvent[];
  };
  const mains = new Set(
    traceEvents
      .filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain')
      .map((e) => `${e.pid}:${e.tid}`),
  );
  const tasks = traceEvents.filter(
    (e) =>
      (e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask') &&
      mains.has(`${e.pid}:${e.tid}`) &&
      e.dur !== undefined,
  );
  // Trace times are in microseconds; `tdur` is the thread's own CPU time.
  return {
    count: tasks.length,
    maxCpuMs: Math.max(0, ...tasks.map((e) => (e.tdur ?? e.dur ?? 0) / 1000)),
    maxWallMs: Math.max(0, ...tasks.map((e) => (e.dur ?? 0) / 1000)),
  };
}

/** Waits for `selector` on `page`; on a timeout, fails with what the page showed and `logs()`. */
export async function waitOrExplainOn(
  page: Page,
  logs: () => string,
  selector: string,
  hasText?: string,
  timeout = 20_000,
): Promise<void> {
  try {
    await page
      .locator(selector, hasText ? { hasText } : {})
      .first()
      .waitFor({ timeout });
  } catch (err) {
    const shown = await page
      .locator('body')
      .innerText()
      .catch(() => '(page unreadable)');
    throw new Error(
      `${(err as Error).message}\n--- page ---\n${shown}\n--- services ---\n${logs().slice(-6000)}`,
    );
  }
}

/** Polls `read` until `ok` holds of its value, with a deadline. */
export async function until<T>(
  what: string,
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
    last = await read();
  }
  return last;
}

/**
 * A connected SDK client for `name` with a dev token of `role` (a student or an instructor in the
 * test process, beside the browsers); kept in `clients` so the test can close them all.
 */
export async function sdkClientOf(
  url: string,
  name: string,
  role: Role,
  clients: CoderoomClient[],
): Promise<CoderoomClient> {
  const client = await CoderoomClient.connect(url, {
    getToken: async () => (await fetchDevToken(url, { name, role })).token,
  });
  clients.push(client);
  return client;
}
