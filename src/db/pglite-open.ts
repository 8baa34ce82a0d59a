/**
 * Opening an embedded PGlite directory: its lock, the template copy for a new directory, then
 * PGlite itself. Light on imports (PGlite, the lock, the template's copy; no drizzle), so
 * `npm start`'s entry (src/start.ts) can begin it while the gateway's modules still load.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import { acquireDirectoryLock, type DirectoryLock } from './lock.js';
import { type PreparedBy, prepareDataDirectory } from './template.js';

/** PGlite's options for a `shared_buffers` setting (a PostgreSQL size; absent: PGlite's 128MB). */
export function pgliteOptions(sharedBuffers: string | undefined): PGliteOptions {
  // PGlite's start parameters replace its defaults, so they are extended, not restated.
  return sharedBuffers
    ? { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${sharedBuffers}`] }
    : {};
}

/** What opening a PGlite directory needs. */
export interface OpenPgliteOptions {
  /** PGlite's `shared_buffers` (see `pgliteOptions`). */
  sharedBuffers?: string | undefined;
  /**
   * New directories start as a copy of the migrated, seeded template of this store (see
   * template.ts); `undefined`: the default store. Absent (the key missing): PGlite runs
   * `initdb` in place, as the CLI does.
   */
  templateStore?: string | undefined;
}

/** An open PGlite directory, with its lock (release it after closing the client). */
export interface OpenedPglite {
  client: PGlite;
  lock: DirectoryLock;
  /** How the directory was made ready (`existing` when it held a database already). */
  preparedBy: PreparedBy;
}

/**
 * Locks `dir` (`DirectoryLockedError` when another process holds it), copies the template into
 * it when new (if `templateStore` is given), opens PGlite on it. On failure the lock is released.
 */
export async function openPgliteDirectory(
  dir: string,
  options: OpenPgliteOptions = {},
): Promise<OpenedPglite> {
  const absolute = path.resolve(dir);
  mkdirSync(path.dirname(absolute), { recursive: true });
  const lock = await acquireDirectoryLock(absolute);
  try {
    const preparedBy =
      'templateStore' in options
        ? await prepareDataDirectory(absolute, options.templateStore)
        : 'existing';
    const client = await PGlite.create(absolute, pgliteOptions(options.sharedBuffers));
    return { client, lock, preparedBy };
  } catch (error) {
    await lock.release();
    throw error;
  }
}
