/**
 * The PGlite template (src/db/template.ts): its key follows the migrations, the seed and PGlite's
 * version; a template of another key is never used (the current one is built from scratch:
 * initdb, every migration, the seed); concurrent first starts each get a complete directory; and
 * a gateway process on a new directory copied from the template answers /ready and the seeded
 * story over HTTP. PGlite only (the template is for the embedded database), on both test runs.
 */

import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../src/cli.js';
import {
  currentTemplateInputs,
  isDataDirectory,
  prepareDataDirectory,
  templateKey,
  templateName,
} from '../src/db/template.js';
import {
  killChildren,
  makeTempDir,
  postGraphQL,
  removeTempDirs,
  seededPgliteDir,
  startChildGateway,
} from './helpers/server.js';

// Building a template runs initdb, 13 migrations and the seed in a child process (10-30 s on a
// loaded machine); two such builds run at once below.
vi.setConfig({ testTimeout: 240_000 });

afterAll(async () => {
  await killChildren();
  removeTempDirs();
});

const STORY = /* GraphQL */ `{
  policyDecision(slug: "cn-2025-12-09-h200-import-deliberation") {
    status
    updates { fromStatus toStatus occurredAt }
  }
  companies(first: 100) { totalCount }
}`;

/** What a data directory holds: seeded companies, applied migrations, the stale marker table. */
async function contentsOf(dir: string) {
  const client = await PGlite.create(dir);
  try {
    const { rows } = await client.query<{ companies: number; migrations: number; marker: boolean }>(
      `select (select count(*)::int from companies) as companies,
              (select count(*)::int from drizzle.__drizzle_migrations) as migrations,
              to_regclass('public.stale_marker') is not null as marker`,
    );
    return rows[0];
  } finally {
    await client.close();
  }
}

describe('template key', () => {
  it('is the same for the same inputs anywhere, and changes with a migration, the seed data or PGlite', () => {
    const inputs = currentTemplateInputs();
    const key = templateKey(inputs);
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(templateKey(currentTemplateInputs())).toBe(key);

    // The same files in another place: the same key (paths count relative to their folder).
    const migrations = path.join(makeTempDir(), 'drizzle');
    cpSync(inputs.migrations, migrations, { recursive: true });
    expect(templateKey({ ...inputs, migrations })).toBe(key);
    // A new migration.
    mkdirSync(path.join(migrations, '20991231000000_later'));
    writeFileSync(path.join(migrations, '20991231000000_later', 'migration.sql'), 'select 1;\n');
    expect(templateKey({ ...inputs, migrations })).not.toBe(key);

    // A changed seed data file.
    const [seedModule, seedData] = inputs.seed as [string, string];
    const seedCopy = path.join(makeTempDir(), 'seed');
    cpSync(seedData, seedCopy, { recursive: true });
    expect(templateKey({ ...inputs, seed: [seedModule, seedCopy] })).toBe(key);
    const dataset = path.join(seedCopy, 'dataset.json');
    writeFileSync(dataset, `${readFileSync(dataset, 'utf8')}\n`);
    expect(templateKey({ ...inputs, seed: [seedModule, seedCopy] })).not.toBe(key);

    // Another PGlite.
    expect(templateKey({ ...inputs, pgliteVersion: `${inputs.pgliteVersion}-next` })).not.toBe(key);
  });
});

describe('new data directories', () => {
  const store = makeTempDir('chipgate-template-store-');

  it('never use a template of another key: concurrent first starts build the current one from scratch, each directory complete', async () => {
    const inputs = currentTemplateInputs();
    const key = templateKey(inputs);
    // A complete data directory under the key of another PGlite, marked so its use would show.
    const staleKey = templateKey({ ...inputs, pgliteVersion: 'another' });
    const stale = await seededPgliteDir();
    const marking = await PGlite.create(stale);
    await marking.exec('create table stale_marker (id int)');
    await marking.close();
    renameSync(stale, path.join(store, templateName(staleKey)));
    // What a crashed build leaves: a partial directory of a process that is gone.
    const partial = path.join(store, `${templateName(key)}.building-4194305-1`);
    mkdirSync(partial);
    writeFileSync(path.join(partial, 'PG_VERSION'), '17\n');

    // The compiled gateway's template (another flavor, so another key) sharing the store.
    const compiled = path.join(store, `js-${staleKey}`);
    mkdirSync(compiled);
    writeFileSync(path.join(compiled, 'PG_VERSION'), '17\n');

    const dirs = [path.join(makeTempDir(), 'pgdata'), path.join(makeTempDir(), 'pgdata')];
    const prepared = await Promise.all(dirs.map((dir) => prepareDataDirectory(dir, store)));
    expect(prepared).toEqual(['built-template', 'built-template']);
    // One template of this flavor: the current key; the stale one and the crashed build are
    // gone; the other flavor's is left to it.
    expect(templateName(key)).toBe(`ts-${key}`);
    expect(readdirSync(store).sort()).toEqual([`js-${staleKey}`, templateName(key)]);
    rmSync(compiled, { recursive: true });
    const migrationCount = readdirSync(inputs.migrations).filter((entry) =>
      /^\d{14}_/.test(entry),
    ).length;
    for (const dir of dirs) {
      expect(await contentsOf(dir)).toEqual({
        companies: 15,
        migrations: migrationCount,
        marker: false,
      });
    }
    // The directories are copies: writing to one leaves the template as it was.
    const writer = await PGlite.create(dirs[0] as string);
    await writer.exec('create table stale_marker (id int)');
    await writer.close();
    expect((await contentsOf(path.join(store, templateName(key))))?.marker).toBe(false);
    // A directory that holds a database is left alone; the next new one copies the template.
    expect(await prepareDataDirectory(dirs[0] as string, store)).toBe('existing');
    expect((await contentsOf(dirs[0] as string))?.marker).toBe(true);
    const third = path.join(makeTempDir(), 'pgdata');
    mkdirSync(third);
    expect(await prepareDataDirectory(third, store)).toBe('template');
    expect(isDataDirectory(third)).toBe(true);
    // Nothing temporary left beside the directories.
    for (const dir of [...dirs, third]) {
      expect(
        readdirSync(path.dirname(dir)).filter((entry) => entry.includes('.template-')),
      ).toEqual([]);
    }
  });

  it('`chipgate template` (what npm ci runs) finds the current template there and leaves it', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      ['template'],
      { CHIPGATE_PGLITE_TEMPLATE_DIR: store },
      (line) => out.push(line),
      (line) => err.push(line),
    );
    expect({ code, err }).toEqual({ code: 0, err: [] });
    const key = templateKey(currentTemplateInputs());
    expect(out).toEqual([`PGlite template up to date: ${path.join(store, templateName(key))}`]);
    expect(readdirSync(store)).toEqual([templateName(key)]);
  });

  it('a store that cannot be written: the directory still gets a migrated, seeded database of its own', async () => {
    // A path below a regular file: no process (root included) can create the store there.
    const blocker = path.join(makeTempDir(), 'not-a-directory');
    writeFileSync(blocker, '');
    const dir = path.join(makeTempDir(), 'pgdata');
    expect(await prepareDataDirectory(dir, path.join(blocker, 'store'))).toBe('built-in-place');
    const migrationCount = readdirSync(currentTemplateInputs().migrations).filter((entry) =>
      /^\d{14}_/.test(entry),
    ).length;
    expect(await contentsOf(dir)).toEqual({
      companies: 15,
      migrations: migrationCount,
      marker: false,
    });
    expect(readdirSync(path.dirname(dir))).toEqual(['pgdata']);
  });

  it('a gateway on a new directory copied from the template answers /ready and the seeded story', async () => {
    const dir = path.join(makeTempDir(), 'pgdata');
    const gateway = await startChildGateway({
      CHIPGATE_PGLITE_DIR: dir,
      CHIPGATE_PGLITE_TEMPLATE_DIR: store,
    });
    try {
      const copied = gateway.logs.find(
        (line) => line.msg === 'new PGlite directory from the template',
      );
      expect(copied).toMatchObject({ directory: dir, by: 'template' });
      expect(gateway.logs.map((line) => line.msg)).not.toContain(
        'seeded the empty embedded database',
      );
      const ready = await fetch(`${gateway.origin}/ready`);
      expect(ready.status).toBe(200);
      const { status, body } = await postGraphQL(gateway.url, STORY);
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      expect(body.data).toEqual({
        policyDecision: {
          status: 'SUPERSEDED',
          updates: [
            { fromStatus: null, toStatus: 'UNDER_REVIEW', occurredAt: '2025-12-09T00:00:00.000Z' },
            {
              fromStatus: 'UNDER_REVIEW',
              toStatus: 'SUPERSEDED',
              occurredAt: '2026-01-13T00:00:00.000Z',
            },
          ],
        },
        companies: { totalCount: 15 },
      });
    } finally {
      expect(await gateway.stop()).toEqual({ code: 0, signal: null });
    }
  });
});
