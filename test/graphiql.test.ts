/**
 * GraphiQL in a real headless browser (Debian's chromium, driven by playwright-core; never a
 * browser download): the page loads from the gateway alone, opens on the story query, and runs it.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessGateway, removeTempDirs, startInProcessGateway } from './helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/graphiql.png';

// CI installs chromium, and there a missing browser fails the run (a silently skipped browser
// test proves nothing). On a developer machine without it, the suite says it skipped this file.
const runs = existsSync(CHROMIUM) || Boolean(process.env.CI);
const describeBrowser = runs ? describe : describe.skip;

let gateway: InProcessGateway;
let browser: Browser;
beforeAll(async () => {
  if (!runs) return;
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the GraphiQL test.`,
    );
  }
  gateway = await startInProcessGateway();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  removeTempDirs();
});

/** The text of a Monaco editor's rendered lines (Monaco renders spaces as U+00A0). */
function editorText(text: string): string {
  return text.replace(/\u00a0/g, ' ');
}

describeBrowser(`GraphiQL${runs ? '' : ` (skipped: ${CHROMIUM} is not installed)`}`, () => {
  it('loads from the gateway alone, opens on the story query and runs it', async () => {
    // Tall enough that Monaco renders the result lines asserted below.
    const context = await browser.newContext({ viewport: { width: 1400, height: 2400 } });
    try {
      const own = new URL(gateway.origin);
      const requested: string[] = [];
      const foreign: string[] = [];
      context.on('request', (request) => {
        requested.push(request.url());
      });
      // Anything not served by the gateway is recorded and never leaves the machine.
      await context.route('**/*', async (route) => {
        const url = new URL(route.request().url());
        if (url.protocol.startsWith('http') && url.host !== own.host) {
          foreign.push(url.href);
          await route.abort('blockedbyclient');
        } else {
          await route.continue();
        }
      });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));

      const response = await page.goto(gateway.url, { waitUntil: 'load', timeout: 30_000 });
      expect(response?.status()).toBe(200);
      expect(response?.headers()['content-type']).toBe('text/html');
      expect(await page.title()).toBe('chipgate: the AI-chip export story');

      const queryEditor = page.locator('.graphiql-query-editor .view-lines');
      await queryEditor.getByText('H200Story', { exact: false }).waitFor({ timeout: 30_000 });
      expect(editorText((await queryEditor.textContent()) ?? '')).toContain('chip(slug: "h200")');

      const executed = page.waitForResponse(
        (r) => r.url() === gateway.url && r.request().method() === 'POST',
        { timeout: 30_000 },
      );
      await page.locator('.graphiql-execute-button').click();
      const result = await (await executed).json();
      expect(result.errors).toBeUndefined();
      expect(result.data.chip.approved.importDecision.slug).toBe(
        'cn-2026-01-28-h200-first-batch-approved',
      );

      const resultPane = page.locator('.graphiql-response .view-lines');
      await resultPane
        .getByText('cn-2026-01-28-h200-first-batch-approved', { exact: false })
        .first()
        .waitFor({ timeout: 30_000 });
      const shown = editorText((await resultPane.textContent()) ?? '');
      expect(shown).toContain('"PERMITTED_WITH_CONDITIONS"');
      expect(shown).toContain('"cn-2026-01-28-h200-first-batch-approved"');
      expect(shown).toContain('"BANNED"');
      expect(shown).toContain('"name": "NVIDIA H200 (SXM)"');
      await page.screenshot({ path: SCREENSHOT, fullPage: false });

      expect(foreign).toEqual([]);
      const network = requested.filter((url) => !/^(data|blob):/.test(url));
      expect(network.length).toBeGreaterThan(0);
      for (const url of network) expect(new URL(url).host).toBe(own.host);
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('is not served when the client does not ask for HTML', async () => {
    const response = await fetch(gateway.url, { signal: AbortSignal.timeout(10_000) });
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].message).toBe('Must provide query string.');
  });
});
