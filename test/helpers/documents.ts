/**
 * Trusted documents for tests: a manifest file, the `documents` commands run in process against
 * a test database, and the number of registrations stored.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { parseDocumentsCommand, runDocumentsCommand } from '../../src/cli-documents.js';
import { type Database, queryRows } from '../../src/db/client.js';

/** Writes `manifest` (`{ "<hash>": "<document>" }`, as given) to a new temporary file. */
export function manifestFile(manifest: Record<string, unknown>): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'chipgate-manifest-')), 'manifest.json');
  writeFileSync(file, JSON.stringify(manifest));
  return file;
}

/** Runs `documents <args>` as the command line would, with the configuration's limits. */
export async function runDocuments(db: Database, ...args: string[]) {
  const parsed = parseDocumentsCommand(args);
  if (typeof parsed === 'string') throw new Error(parsed);
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDocumentsCommand(
    db,
    parsed,
    (line) => out.push(line),
    (line) => err.push(line),
  );
  return { code, out, err };
}

/** How many trusted-document registrations are stored. */
export async function registeredDocuments(db: Database): Promise<number | undefined> {
  const [row] = await queryRows<{ n: number }>(
    db,
    sql`select count(*)::int as n from trusted_documents`,
  );
  return row?.n;
}
