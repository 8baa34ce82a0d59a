/**
 * A fresh, isolated, migrated and seeded database for one test file, on the backend the run
 * uses (PGlite without DATABASE_URL, the PostgreSQL server with it). Never shared between
 * files, so runs never see each other's rows.
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'drizzle-orm';
import postgres from 'postgres';
import { inject } from 'vitest';
import { type DatabaseHandle, openDatabase, wrapPglite } from '../../src/db/client.js';
import { EVENT_STREAM_SQL_MARK } from '../../src/db/events.js';
import { adminUrl, databaseUrlFor } from './postgres-admin.js';

/** Which backend this run tests. */
export const backend: 'pglite' | 'postgres' = process.env.DATABASE_URL ? 'postgres' : 'pglite';

/**
 * Records every SQL statement drizzle sends for requests, so tests can count them. The event
 * hub's reads (marked `EVENT_STREAM_SQL_MARK`) run whenever events commit, not for a request,
 * and are left out.
 */
export class StatementLog implements Logger {
  /** Statement texts, in the order sent. */
  readonly statements: string[] = [];
  /** The parameters of each statement of `statements`, at the same index. */
  readonly params: unknown[][] = [];
  logQuery(query: string, params: unknown[] = []): void {
    if (query.startsWith(EVENT_STREAM_SQL_MARK)) return;
    this.statements.push(query);
    this.params.push(params);
  }
  get count(): number {
    return this.statements.length;
  }
  reset(): void {
    this.statements.length = 0;
    this.params.length = 0;
  }
}

/** An isolated test database; `close()` closes it and (on a server) drops it. */
export interface TestDatabase extends DatabaseHandle {
  /** The postgres:// URL of this database (server runs only). */
  url?: string;
}

let templateDump: Blob | undefined;

/** Opens a new database for the calling test file, copied from the run's seeded template. */
export async function createTestDatabase(options: { logger?: Logger } = {}): Promise<TestDatabase> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    templateDump ??= new Blob([readFileSync(inject('pgliteTemplate'))]);
    const client = await PGlite.create({ loadDataDir: templateDump });
    return wrapPglite(client, {
      ...(options.logger ? { logger: options.logger } : {}),
      description: 'pglite:test',
    });
  }
  const template = inject('templateDatabase');
  const name = `${template}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl(databaseUrl), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}" template "${template}"`);
  } finally {
    await admin.end();
  }
  const url = databaseUrlFor(databaseUrl, name);
  const handle = await openDatabase({
    databaseUrl: url,
    poolMax: 5,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return {
    ...handle,
    url,
    async close() {
      await handle.close();
      const dropper = postgres(adminUrl(databaseUrl), { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
