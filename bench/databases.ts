/**
 * The benchmark's databases: a generated PGlite data directory (dumped to a file that each
 * target process loads into memory), or a fresh database on the PostgreSQL server.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { openDatabase } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { type GeneratedCounts, generate } from './generate.js';
import type { TargetOptions } from './protocol.js';

/** A migrated, generated database that target processes can open. */
export interface PreparedDatabase {
  /** How a target opens it. */
  target: Pick<TargetOptions, 'backend' | 'databaseUrl' | 'pgliteDump'>;
  counts: GeneratedCounts;
  /** Seconds spent migrating and generating. */
  seconds: number;
  /** Removes the dump file or drops the database. */
  dispose(): Promise<void>;
}

/**
 * Migrates and fills an in-memory PGlite at `scale`, then dumps its data directory to
 * `<dir>/pglite-s<scale>.tar` (a target loads it in well under a second).
 */
export async function preparePglite(scale: number, dir: string): Promise<PreparedDatabase> {
  const started = performance.now();
  const handle = await openDatabase({ pgliteDir: 'memory://' });
  let counts: GeneratedCounts;
  const file = path.join(dir, `pglite-s${scale}.tar`);
  try {
    await runMigrations(handle);
    counts = await generate(handle.db, scale);
    if (!handle.pglite) throw new Error('preparePglite: no PGlite instance');
    const dump = await handle.pglite.dumpDataDir('none');
    writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  } finally {
    await handle.close();
  }
  return {
    target: { backend: 'pglite', pgliteDump: file },
    counts,
    seconds: (performance.now() - started) / 1000,
    async dispose() {
      rmSync(file, { force: true });
    },
  };
}

async function withAdmin(adminUrl: string, work: (sql: postgres.Sql) => Promise<void>) {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await work(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Drops and recreates `name` on the server (`adminUrl` is its `postgres` database), migrates it
 * with `runMigrations` and fills it at `scale`.
 */
export async function preparePostgres(
  scale: number,
  adminUrl: string,
  databaseUrl: string,
  name: string,
): Promise<PreparedDatabase> {
  const started = performance.now();
  const drop = () =>
    withAdmin(adminUrl, async (sql) => {
      await sql.unsafe(`drop database if exists "${name}" with (force)`);
    });
  await drop();
  await withAdmin(adminUrl, async (sql) => {
    await sql.unsafe(`create database "${name}"`);
  });
  let counts: GeneratedCounts;
  try {
    const handle = await openDatabase({ databaseUrl, poolMax: 2 });
    try {
      await runMigrations(handle);
      counts = await generate(handle.db, scale);
    } finally {
      await handle.close();
    }
  } catch (error) {
    await drop().catch(() => {});
    throw error;
  }
  return {
    target: { backend: 'postgres', databaseUrl },
    counts,
    seconds: (performance.now() - started) / 1000,
    dispose: drop,
  };
}
