/**
 * The partner dashboard example (examples/partner-dashboard) end to end: built with the
 * repository's Vite, its manifest registered with `documents add` for a persisted-only read
 * key, served by a static server on its own origin (allowed by CHIPGATE_CORS_ORIGINS), opened
 * in Debian's Chromium (playwright-core), talking to a real gateway on 127.0.0.1 through a TCP
 * proxy (to cut its connections), with the Federal Register behind the fixture upstream.
 * The page must show the seeded story as the gateway reads it from the database, its sources
 * after the rest when the Federal Register is slow (`@defer`), a status change made through the
 * mutation, and ones made while its connections were cut or the gateway restarted, once each; a
 * failing source on its own lines; nothing at all from an origin the gateway does not allow.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../src/auth.js';
import { insertApiKey } from '../src/db/api-keys.js';
import { loadEnv } from '../src/env.js';
import { type RunningGateway, startGateway } from '../src/server.js';
import { runDocuments } from './helpers/documents.js';
import { LIFTED_LIMITS } from './helpers/gateway.js';
import { createKey, type TestKey } from './helpers/keys.js';
import {
  freePort,
  type GatewayDatabase,
  gatewayDatabase,
  makeTempDir,
  postGraphQL,
  removeTempDirs,
  repoRoot,
  withGatewayDatabase,
} from './helpers/server.js';
import { serveStatic } from './helpers/static-site.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { setStatus as setStatusBySql } from './helpers/writes.js';

const CHROMIUM = '/usr/bin/chromium';
// CI installs chromium, and there a missing browser fails the run; locally the file is skipped.
const runs = existsSync(CHROMIUM) || Boolean(process.env.CI);
const describeBrowser = runs ? describe : describe.skip;

const EXAMPLE = path.join(repoRoot, 'examples', 'partner-dashboard');
const CHIP = 'h200';
/** An APPROVED decision naming the chip: may become IN_EFFECT, then SUSPENDED. */
const DECISION = 'us-whitehouse-2025-12-08-h200-approval';

/** What the page must show, read through the gateway from the seeded database. */
const EXPECTED = /* GraphQL */ `query ($slug: String!) {
  chip(slug: $slug) {
    exportStatus { exportEffect importEffect }
    policyDecisions(first: 100) {
      edges {
        effect
        node {
          slug title jurisdiction announcedOn sourceUrl federalRegisterDocumentNumber
          updates { id }
        }
      }
    }
  }
}`;

const SET_STATUS = /* GraphQL */ `mutation ($input: UpdatePolicyDecisionStatusInput!) {
  updatePolicyDecisionStatus(input: $input) {
    __typename
    ... on UpdatePolicyDecisionStatusSuccess { update { id eventCursor toStatus note } }
  }
}`;

let upstream: Upstream;
let database: GatewayDatabase;
let port: number;
let gateway: RunningGateway | undefined;
/** The gateway's GraphQL URL (the same after a restart). */
let gatewayUrl: string;
let proxy: TcpProxy;
let site: Server;
let siteOrigin: string;
let browser: Browser;
let readKey: TestKey;
let writeKey: TestKey;
let manifest: Record<string, string>;
let dist: string;
/** The page's `config.json` (set once the gateway and the key exist). */
let config: object = {};

/**
 * Starts a gateway on `port` of 127.0.0.1 over the test's database (fixed, so a restarted one
 * answers at the same address), allowing the page's origin, with the fixture Federal Register.
 */
function startGatewayOn(port: number): Promise<RunningGateway> {
  return startGateway({
    ...loadEnv({
      CHIPGATE_LOG_LEVEL: 'silent',
      ...LIFTED_LIMITS,
      ...database.env,
      CHIPGATE_CORS_ORIGINS: siteOrigin,
      CHIPGATE_FEDERAL_REGISTER_URL: `${upstream.url}/fr`,
      CHIPGATE_FEDERAL_REGISTER_RATE: '1000',
    }),
    CHIPGATE_HOST: '127.0.0.1',
    CHIPGATE_PORT: port,
  });
}

beforeAll(async () => {
  if (!runs) return;
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium).`,
    );
  }
  dist = makeTempDir('chipgate-dashboard-');
  // As `npm run dashboard:build` does (with @defer), into a temporary directory.
  await build({
    configFile: path.join(EXAMPLE, 'vite.config.ts'),
    mode: 'production',
    logLevel: 'warn',
    build: { outDir: dist },
  });
  manifest = JSON.parse(readFileSync(path.join(dist, 'persisted-documents.json'), 'utf8'));

  site = await serveStatic(dist, () => config);
  siteOrigin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  upstream = await startUpstream();
  database = await gatewayDatabase();
  port = await freePort();
  gateway = await startGatewayOn(port);
  gatewayUrl = gateway.url;
  proxy = await startTcpProxy({ host: '127.0.0.1', port });

  // The partner's read key may run its registered documents only.
  const db = gateway.db.db;
  const generated = generateKey();
  const readKeyId = await insertApiKey(db, {
    name: 'partner dashboard',
    prefix: generated.prefix,
    keyHash: generated.keyHash,
    scopes: ['read'],
    persistedOnly: true,
  });
  readKey = {
    id: readKeyId,
    key: generated.key,
    headers: { authorization: `Bearer ${generated.key}` },
  };
  writeKey = await createKey(db, ['write'], 'analyst desk');
  const added = await runDocuments(
    db,
    'add',
    '--key',
    String(readKey.id),
    path.join(dist, 'persisted-documents.json'),
  );
  expect(added.err).toEqual([]);
  expect(added.code).toBe(0);

  config = {
    gateway: `http://127.0.0.1:${proxy.port}/graphql`,
    key: readKey.key,
    chip: CHIP,
  };
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await gateway?.stop();
  await database?.cleanup();
  await upstream?.close();
  await new Promise((resolve) => (site ? site.close(resolve) : resolve(undefined)));
  removeTempDirs();
});

/** Sets a status of DECISION through the mutation; the stored update's id and cursor. */
async function setStatus(status: string, note: string) {
  const { body } = await postGraphQL(
    gatewayUrl,
    SET_STATUS,
    { input: { slug: DECISION, status, note } },
    writeKey.headers,
  );
  const result = body.data.updatePolicyDecisionStatus;
  expect(result.__typename).toBe('UpdatePolicyDecisionStatusSuccess');
  return result.update as { id: string; eventCursor: string; toStatus: string; note: string };
}

/** The feed's items as the page shows them. */
function feedItems(page: Page) {
  return page.$$eval('#feed li', (items) =>
    items.map((li) => ({
      id: li.getAttribute('data-update-id'),
      toStatus: li.getAttribute('data-to-status'),
      live: li.getAttribute('data-live'),
      text: li.textContent,
    })),
  );
}

describeBrowser(`partner dashboard${runs ? '' : ` (skipped: ${CHROMIUM} is missing)`}`, () => {
  it('builds a manifest of its own operations that documents add registers', () => {
    const entries = Object.entries(manifest);
    expect(
      entries.map(([, document]) => /^(query|subscription) (\w+)/.exec(document)?.[2]),
    ).toEqual(['DashboardChips', 'DashboardChip', 'DashboardFeed']);
  });

  it('shows the seeded story, a change made through the mutation, and ones made while cut off or restarting', async () => {
    const { body } = await postGraphQL(gatewayUrl, EXPECTED, { slug: CHIP });
    const expected = body.data.chip;
    type Edge = {
      effect: string;
      node: {
        slug: string;
        title: string;
        jurisdiction: string;
        announcedOn: string;
        sourceUrl: string | null;
        federalRegisterDocumentNumber: string | null;
        updates: { id: string }[];
      };
    };
    const edges: Edge[] = expected.policyDecisions.edges;
    expect(edges.length).toBeGreaterThan(3);

    const context = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      // The browser reports the connections the test cuts or the gateway it stops; anything else
      // is a problem.
      const text = message.text();
      const cut = /net::ERR_(CONNECTION_RESET|EMPTY_RESPONSE|CONNECTION_REFUSED|CONNECTION_CLOSED)/;
      if (message.type() === 'error' && !cut.test(text)) {
        problems.push(text);
      }
    });
    const gatewayOrigin = `http://127.0.0.1:${proxy.port}`;
    const elsewhere: string[] = [];
    const queryTexts: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin !== siteOrigin && url.origin !== gatewayOrigin) elsewhere.push(request.url());
      const data = request.postData();
      if (url.origin === gatewayOrigin && data && JSON.parse(data).query) queryTexts.push(data);
    });
    try {
      // The Federal Register answers late: the store's part shows first, the sources after,
      // each decision's in its own payload when ready: those waiting for the register are
      // still loading while the chart is drawn.
      upstream.misbehave('/fr', { kind: 'delay', ms: 1_500 });
      await page.goto(`${siteOrigin}/?chip=${CHIP}`);
      await page.waitForSelector('body[data-loaded="partial"]');
      const states = await page.$$eval('#decisions li', (items) =>
        items.map((li) => [
          li.getAttribute('data-slug'),
          li.querySelector('.sources')?.getAttribute('data-state'),
        ]),
      );
      const waiting = edges.filter((e) => e.node.federalRegisterDocumentNumber);
      expect(waiting.length).toBeGreaterThan(0);
      for (const edge of waiting) expect(states).toContainEqual([edge.node.slug, 'loading']);
      expect(await page.$$eval('svg.chart circle.decision', (c) => c.length)).toBeGreaterThan(0);
      await page.waitForSelector('body[data-loaded="all"]');
      upstream.reset();
      await page.waitForSelector('#feed-state[data-state="live"]');

      // The chart: one dot per U.S. or Chinese decision naming the chip, at its date and effect.
      const dots = await page.$$eval('svg.chart circle.decision', (circles) =>
        circles.map((c) => ({
          slug: c.getAttribute('data-slug'),
          side: c.getAttribute('data-side'),
          effect: c.getAttribute('data-effect'),
          date: c.getAttribute('data-date'),
        })),
      );
      const sides = edges.filter((e) => ['US', 'CN'].includes(e.node.jurisdiction));
      expect(new Set(sides.map((e) => e.node.jurisdiction))).toEqual(new Set(['US', 'CN']));
      const bySlug = (a: { slug: string | null }, b: { slug: string | null }) =>
        String(a.slug).localeCompare(String(b.slug));
      expect(dots.sort(bySlug)).toEqual(
        sides
          .map((e) => ({
            slug: e.node.slug,
            side: e.node.jurisdiction,
            effect: e.effect,
            date: e.node.announcedOn,
          }))
          .sort(bySlug),
      );
      // Today's status as the gateway derives it.
      const status = await page.$$eval('#status .effect', (spans) =>
        spans.map((s) => [s.getAttribute('data-side'), s.textContent]),
      );
      const words = (effect: string | null) => (effect ?? 'none recorded').replace(/_/g, ' ');
      expect(status).toEqual([
        ['US', words(expected.exportStatus.exportEffect)],
        ['CN', words(expected.exportStatus.importEffect)],
      ]);

      // The decisions, newest first, with their sources (the Federal Register's via the upstream).
      const decisions = await page.$$eval('#decisions li', (items) =>
        items.map((li) => ({
          slug: li.getAttribute('data-slug'),
          links: [...li.querySelectorAll('.sources a')].map((a) => ({
            href: a.getAttribute('href'),
            number: a.getAttribute('data-document-number'),
            text: a.textContent,
          })),
        })),
      );
      expect(decisions.map((d) => d.slug)).toEqual(edges.map((e) => e.node.slug));
      const withDocument = edges.filter((e) => e.node.federalRegisterDocumentNumber);
      expect(withDocument.length).toBeGreaterThan(0);
      for (const [i, edge] of edges.entries()) {
        const expectedLinks = [];
        if (edge.node.sourceUrl) {
          expectedLinks.push({ href: edge.node.sourceUrl, number: null, text: 'source' });
        }
        const number = edge.node.federalRegisterDocumentNumber;
        const document = number ? upstream.documents.get(number) : undefined;
        if (number && document) {
          expectedLinks.push({ href: document.html_url, number, text: document.title });
        }
        expect(decisions[i]?.links).toEqual(expectedLinks);
      }

      // The feed's history: every stored status change of those decisions, once.
      const history = await feedItems(page);
      const storedIds = edges.flatMap((e) => e.node.updates.map((u) => u.id));
      expect(history.map((item) => item.id).sort()).toEqual([...storedIds].sort());
      expect(history.every((item) => item.live === 'false')).toBe(true);

      // A change through the mutation appears live.
      const first = await setStatus('IN_EFFECT', 'First licenses issued (dashboard test)');
      const firstItem = page.locator(`#feed li[data-update-id="${first.id}"][data-live="true"]`);
      await firstItem.waitFor();
      expect(await firstItem.getAttribute('data-to-status')).toBe('IN_EFFECT');
      expect(await firstItem.textContent()).toContain('First licenses issued (dashboard test)');
      // ... and the page reads the chip again: the decision's status follows.
      await page.waitForSelector(`#decisions li[data-slug="${DECISION}"][data-status="IN_EFFECT"]`);

      // Cut the page's connections; a change committed meanwhile arrives when the feed resumes
      // from the last cursor it received, once.
      proxy.cut('rst');
      await page.waitForSelector('#feed-state[data-state="reconnecting"]');
      const second = await setStatus('SUSPENDED', 'Paused while cut off (dashboard test)');
      await page.waitForSelector(
        `#feed-state[data-state="live"][data-resumed-after="${first.eventCursor}"]`,
      );
      await page.locator(`#feed li[data-update-id="${second.id}"]`).waitFor();
      const after = await feedItems(page);
      expect(after.filter((item) => item.id === second.id)).toEqual([
        expect.objectContaining({ toStatus: 'SUSPENDED', live: 'true' }),
      ]);
      expect(after.filter((item) => item.id === first.id)).toHaveLength(1);
      expect(after).toHaveLength(storedIds.length + 2);
      await page.waitForSelector(`#decisions li[data-slug="${DECISION}"][data-status="SUSPENDED"]`);
      await page.waitForSelector('body[data-loaded="all"]');

      // The gateway restarts (its streams end), and a change committed while it was down (by
      // plain SQL, as any writer) arrives when the feed resumes, once.
      await gateway?.stop();
      gateway = undefined;
      await page.waitForSelector('#feed-state[data-state="reconnecting"]');
      const note = 'Resumed while the gateway was down (dashboard test)';
      await withGatewayDatabase(database, (db) => setStatusBySql(db, DECISION, 'IN_EFFECT', note));
      gateway = await startGatewayOn(port);
      await page.waitForSelector(
        `#feed-state[data-state="live"][data-resumed-after="${second.eventCursor}"]`,
      );
      await page.locator('#feed li', { hasText: note }).waitFor();
      const restarted = await feedItems(page);
      expect(restarted.filter((item) => item.text?.includes(note))).toEqual([
        expect.objectContaining({ toStatus: 'IN_EFFECT', live: 'true' }),
      ]);
      expect(restarted).toHaveLength(storedIds.length + 3);
      await page.waitForSelector(`#decisions li[data-slug="${DECISION}"][data-status="IN_EFFECT"]`);
      await page.waitForSelector('body[data-loaded="all"]');
      expect(await page.locator('#errors').isHidden()).toBe(true);

      // Kept after the run (not a makeTempDir), for a person to look at.
      const screenshot = path.join(
        mkdtempSync(path.join(tmpdir(), 'chipgate-dashboard-')),
        'page.png',
      );
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`partner dashboard screenshot: ${screenshot}`);

      expect(problems).toEqual([]);
      expect(elsewhere).toEqual([]);
      // Only trusted-document ids went to the gateway (the key is persisted-only anyway).
      expect(queryTexts).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('switches chips, and shows a failing Federal Register on the lines citing it only', async () => {
    const chip = 'a100';
    const { body } = await postGraphQL(gatewayUrl, EXPECTED, { slug: chip });
    const edges: { node: { slug: string; federalRegisterDocumentNumber: string | null } }[] =
      body.data.chip.policyDecisions.edges;
    const citing = edges.filter((e) => e.node.federalRegisterDocumentNumber);
    expect(citing.length).toBeGreaterThan(0);
    const context = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
    try {
      // Opened on the configured chip, then switched to this one.
      const page = await context.newPage();
      await page.goto(siteOrigin);
      await page.waitForSelector(`#decisions li[data-slug="${DECISION}"]`);
      await page.waitForSelector('body[data-loaded="all"]');
      upstream.misbehave('/fr', { kind: 'status', status: 500 });
      await page.selectOption('#chip', chip);
      expect(new URL(page.url()).searchParams.get('chip')).toBe(chip);
      await page.waitForSelector('body[data-loaded="all"]');
      await page.waitForSelector('#feed-state[data-state="live"]');
      const lines = await page.$$eval('#decisions li', (items) =>
        items.map((li) => [
          li.getAttribute('data-slug'),
          li.querySelector('.source-error')?.getAttribute('data-code') ?? null,
        ]),
      );
      // (None of these documents was read, and cached, by the test above.)
      expect(lines).toEqual(
        edges.map((e) => [
          e.node.slug,
          e.node.federalRegisterDocumentNumber ? 'SOURCE_UNAVAILABLE' : null,
        ]),
      );
      expect(await page.locator('#errors').isHidden()).toBe(true);
      expect(await page.$$eval('svg.chart circle.decision', (c) => c.length)).toBeGreaterThan(0);
    } finally {
      upstream.reset();
      await context.close();
    }
  });

  it('cannot read the gateway from an origin it does not allow', async () => {
    const stranger = await serveStatic(dist, () => config);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${(stranger.address() as AddressInfo).port}/`);
      await page.waitForSelector('#errors:not([hidden])');
      expect(await page.locator('#errors').textContent()).toContain('Failed to fetch');
      expect(await page.$$eval('svg.chart circle.decision', (c) => c.length)).toBe(0);
    } finally {
      await context.close();
      await new Promise((resolve) => stranger.close(resolve));
    }
  });
});
