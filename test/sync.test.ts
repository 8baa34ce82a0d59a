/**
 * `sync federal-register` against the fixture upstream: counts, idempotency, curated rows left
 * alone, upstream changes, and interrupted runs (aborted, or a page failing) that a re-run
 * brings to the state of an uninterrupted run. Also the command line around it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import type { Database } from '../src/db/client.js';
import { FEDERAL_REGISTER_POLICY, FederalRegisterClient } from '../src/sources/federal-register.js';
import { Source } from '../src/sources/http.js';
import { syncFederalRegister } from '../src/sync/federal-register.js';
import { backend, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startUpstream, type Upstream, upstreamSourcesConfig } from './helpers/upstream.js';

let upstream: Upstream;
const databases: TestDatabase[] = [];
const sources: Source[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
});
afterEach(() => upstream.reset());
afterAll(async () => {
  await Promise.all(sources.map((source) => source.close()));
  await Promise.all(databases.map((database) => database.close()));
  await upstream?.close();
});

async function database() {
  const created = await createTestDatabase();
  databases.push(created);
  return created;
}

function client(vars: Record<string, string> = {}) {
  const config = upstreamSourcesConfig(upstream, { CHIPGATE_SOURCE_RETRIES: '0', ...vars });
  const source = new Source('federal-register', config.federalRegister, {
    ...FEDERAL_REGISTER_POLICY,
    userAgent: 'chipgate-tests',
  });
  sources.push(source);
  return new FederalRegisterClient(source, config.federalRegister.baseUrl);
}

/** Every decision as the sync leaves it, and the length of each status history. */
async function snapshot(db: Database) {
  const result = await db.execute(sql`
    select d.slug, d.title, d.jurisdiction, d.destinations, d.authority, d.kind, d.status,
      d.announced_on::text, d.effective_on::text, d.published_on::text,
      d.federal_register_document_number, d.federal_register_citation,
      d.regulation_identifier_number, d.source_url, d.confidence, d.notes,
      (select count(*)::int from policy_decision_updates u where u.decision_id = d.id) as history
    from policy_decisions d order by d.slug`);
  return (result as unknown as { rows?: unknown[] }).rows ?? (result as unknown as unknown[]);
}

const SINCE = '2022-10-01';

describe('sync federal-register', () => {
  let reference: unknown[];

  it('creates the documents the store lacks and links the curated ones; a second run creates nothing', async () => {
    const { db } = await database();
    const first = await syncFederalRegister(db, client(), { since: SINCE, pageSize: 4 });
    expect(first).toEqual({
      counts: { created: 3, linked: 6, updated: 0, unchanged: 0, failed: 0 },
      total: 9,
      interrupted: false,
    });
    // Three pages of four, following next_page_url.
    expect(
      upstream.log.map((entry) => new URL(entry.path, upstream.url).searchParams.get('page')),
    ).toEqual(['1', '2', '3']);
    reference = await snapshot(db);
    const created = (reference as any[]).filter((row) => row.slug.startsWith('fr-'));
    expect(created).toEqual([
      expect.objectContaining({
        slug: 'fr-2023-01234',
        title: 'Additions to the Entity List',
        jurisdiction: 'US',
        destinations: ['CN', 'RU'],
        authority: 'BIS',
        kind: 'EXPORT_RULE',
        status: 'IN_EFFECT',
        announced_on: '2023-03-06',
        effective_on: '2023-03-06',
        published_on: '2023-03-06',
        federal_register_citation: '88 FR 13673',
        source_url: 'https://www.federalregister.gov/documents/2023/03/06/2023-01234/document',
        confidence: 'VERIFIED',
        history: 1,
      }),
      expect.objectContaining({
        slug: 'fr-2024-05678',
        status: 'PROPOSED',
        destinations: [],
        effective_on: null,
      }),
      expect.objectContaining({ slug: 'fr-2025-11111', status: 'IN_EFFECT', destinations: [] }),
    ]);
    // The curated rule keeps its own title and slug.
    const curated = (reference as any[]).find(
      (row) => row.federal_register_document_number === '2022-21658',
    );
    expect(curated.slug).toBe('us-bis-2022-10-07');

    const second = await syncFederalRegister(db, client(), { since: SINCE, pageSize: 4 });
    expect(second.counts).toEqual({ created: 0, linked: 6, updated: 0, unchanged: 3, failed: 0 });
    expect(await snapshot(db)).toEqual(reference);

    // Upstream corrects a title and finalises the proposed rule: two updates, history grows.
    const proposed = upstream.documents.get('2024-05678');
    const notice = upstream.documents.get('2025-11111');
    upstream.documents.set('2024-05678', {
      ...(proposed as any),
      type: 'Rule',
      action: 'Final rule.',
    });
    upstream.documents.set('2025-11111', {
      ...(notice as any),
      title: 'Advisory Committee Meeting Notice (corrected)',
    });
    try {
      const third = await syncFederalRegister(db, client(), { since: SINCE, pageSize: 4 });
      expect(third.counts).toEqual({ created: 0, linked: 6, updated: 2, unchanged: 1, failed: 0 });
      const rows = (await snapshot(db)) as any[];
      expect(rows.find((row) => row.slug === 'fr-2024-05678')).toMatchObject({
        status: 'IN_EFFECT',
        history: 2,
      });
      expect(rows.find((row) => row.slug === 'fr-2025-11111')?.title).toBe(
        'Advisory Committee Meeting Notice (corrected)',
      );
    } finally {
      upstream.documents.set('2024-05678', proposed as any);
      upstream.documents.set('2025-11111', notice as any);
    }
  });

  it('an aborted run, then a run whose page 2 fails, then a full run: the same state as one run', async () => {
    const { db } = await database();
    const controller = new AbortController();
    const aborted = await syncFederalRegister(db, client(), {
      since: SINCE,
      pageSize: 4,
      signal: controller.signal,
      onProgress: (done) => done === 2 && controller.abort(),
    });
    expect(aborted).toMatchObject({ interrupted: true, counts: { created: 1, linked: 1 } });

    // Page 1 answers, page 2 fails.
    const failing = await syncFederalRegister(db, failOnPage(2), {
      since: SINCE,
      pageSize: 4,
    });
    expect(failing.error?.message).toMatch(/HTTP 500/);
    expect(failing.counts).toEqual({ created: 1, linked: 2, updated: 0, unchanged: 1, failed: 0 });

    const rerun = await syncFederalRegister(db, client(), { since: SINCE, pageSize: 4 });
    expect(rerun.error).toBeUndefined();
    expect(rerun.counts).toEqual({ created: 1, linked: 6, updated: 0, unchanged: 2, failed: 0 });
    expect(await snapshot(db)).toEqual(reference);
  });
});

/** A client whose upstream answers page `page` with HTTP 500 (told just before that call). */
function failOnPage(page: number): FederalRegisterClient {
  const inner = client();
  const failing = Object.create(inner) as FederalRegisterClient;
  failing.readPage = (url: string) => {
    if (new URL(url).searchParams.get('page') === String(page)) {
      upstream.misbehave('/fr/documents.json', { kind: 'status', status: 500, times: 1 });
    }
    return inner.readPage(url);
  };
  return failing;
}

describe('the command line', () => {
  it('syncs into the configured database and prints the summary; bad usage exits 2', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const dir = mkdtempSync(path.join(tmpdir(), 'chipgate-sync-'));
    const own = backend === 'postgres' ? await database() : undefined;
    const env: Record<string, string> = {
      ...(own?.url ? { DATABASE_URL: own.url } : { CHIPGATE_PGLITE_DIR: path.join(dir, 'pgdata') }),
      CHIPGATE_FEDERAL_REGISTER_URL: `${upstream.url}/fr`,
      CHIPGATE_LOG_LEVEL: 'silent',
    };
    const cli = (args: string[]) =>
      runCli(
        args,
        env,
        (line) => out.push(line),
        (line) => err.push(line),
      );
    try {
      expect(await cli(['sync', 'gdelt'])).toBe(2);
      expect(err.at(-1)).toMatch(/unknown source "gdelt"/);
      expect(await cli(['sync', 'federal-register', '--since', '2022-13-45'])).toBe(2);
      expect(err.at(-1)).toMatch(/bad option "--since 2022-13-45"/);
      // Not a calendar date, though Date.parse reads it as 2022-03-02.
      expect(await cli(['sync', 'federal-register', '--since', '2022-02-30'])).toBe(2);
      expect(err.at(-1)).toMatch(/bad option "--since 2022-02-30"/);
      expect(await cli(['sync', 'federal-register', '--since', SINCE])).toBe(0);
      // The server database is a seeded copy (six curated rules); the PGlite one is empty.
      expect(out.at(-1)).toMatch(
        own
          ? /^Synced 9 Federal Register documents \(BIS, since 2022-10-01\) into .*: 3 created, 6 linked, 0 updated, 0 unchanged, 0 failed\.$/
          : /^Synced 9 Federal Register documents \(BIS, since 2022-10-01\) into .*: 9 created, 0 linked, 0 updated, 0 unchanged, 0 failed\.$/,
      );
      upstream.misbehave('/fr/', { kind: 'status', status: 500 });
      expect(await cli(['sync', 'federal-register'])).toBe(1);
      expect(err.at(-1)).toMatch(/sync stopped: .*HTTP 500.* So far: 0 created/);
      // The scheduled sync's status: off here, no runs recorded by the command itself.
      expect(await cli(['sync', 'status'])).toBe(0);
      expect(out.at(-1)).toBe(
        'Scheduled Federal Register sync: off (CHIPGATE_SYNC_FR_CRON is not set).\nNo scheduled runs recorded.',
      );
      env.CHIPGATE_SYNC_FR_CRON = '17 * * * *';
      expect(await cli(['sync', 'status'])).toBe(0);
      expect(out.at(-1)).toMatch(
        /^Scheduled Federal Register sync: cron "17 \* \* \* \*" \(UTC\), window 30 days; next due \d{4}-\d\d-\d\dT\d\d:17:00\.000Z\.\nNo scheduled runs recorded\.$/,
      );
      expect(await cli(['sync', 'status', '--all'])).toBe(2);
      expect(err.at(-1)).toMatch(/sync status takes no arguments \(got --all\)/);
      env.CHIPGATE_SYNC_FR_CRON = '61 * * * *';
      expect(await cli(['sync', 'status'])).toBe(2);
      expect(err.at(-1)).toContain(
        'CHIPGATE_SYNC_FR_CRON="61 * * * *": expected a cron expression, 5 fields (e.g. "17 * * * *") or 6 with seconds',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
