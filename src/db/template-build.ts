/**
 * Building the PGlite template (see template.ts): `initdb`, the migrations and the seed in a new
 * data directory, renamed into the store when complete. Runs in short-lived processes only (the
 * CLI's `template` command at install and in the Docker image, and the child the gateway forks
 * when the template is missing: this file is that child's entry), so no gateway keeps the
 * `initdb` instance's memory.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { wrapPglite } from './client.js';
import { runMigrations } from './migrate.js';
import { seed } from './seed.js';
import {
  currentTemplateInputs,
  defaultTemplateStore,
  isDataDirectory,
  pruneStore,
  publish,
  type TemplateInputs,
  templateKey,
  templateName,
  temporarySibling,
} from './template.js';

/**
 * Builds a migrated and seeded PGlite data directory at `target` (which must not exist): in
 * `<target>.building-<pid>-<n>`, renamed into place when complete. When another process put a
 * complete one there first, that one is kept. Runs `initdb` in this process: call it from a
 * process that ends soon after (the CLI, the install step, `buildTemplateInChild`).
 */
export async function buildDataDirectory(target: string): Promise<void> {
  mkdirSync(path.dirname(target), { recursive: true });
  const building = temporarySibling(target, 'building');
  try {
    const client = await PGlite.create(building);
    const handle = await wrapPglite(client, { description: `pglite:${building}` });
    try {
      await runMigrations(handle);
      await seed(handle.db);
    } finally {
      await handle.close();
    }
    publish(building, target);
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

/**
 * The path of the current template in `store`, building it (in this process) when missing.
 * Templates of other keys and leftovers of crashed builds are removed.
 */
export async function ensureTemplate(
  store: string = defaultTemplateStore,
  inputs: TemplateInputs = currentTemplateInputs(),
): Promise<{ path: string; key: string; built: boolean }> {
  const key = templateKey(inputs);
  const target = path.join(store, templateName(key));
  if (isDataDirectory(target)) return { path: target, key, built: false };
  mkdirSync(store, { recursive: true });
  pruneStore(store, key);
  await buildDataDirectory(target);
  return { path: target, key, built: true };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // The child of `buildTemplateInChild`: builds into the store it was given, reports the path.
  const { path: built } = await ensureTemplate(process.argv[2] ?? defaultTemplateStore);
  process.send?.({ path: built });
  process.disconnect?.();
}
