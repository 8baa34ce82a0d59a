/**
 * `npm run schema:check [OLD_SCHEMA]`: compares the schema the code prints with the committed
 * `schema/schema.graphql` (or the SDL file given) using @graphql-inspector/core, and fails
 * (exit code 1) when a change is breaking, listing every registered trusted document that
 * would no longer validate, so partners are told before their dashboards break.
 *
 * Registered documents are read from the configured database (`DATABASE_URL`, or the
 * embedded directory when it exists and no gateway holds it); without one, only the schema
 * is compared.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Change, CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildSchema, type GraphQLSchema, parse, validate } from 'graphql';
import { operationNameOf } from '../access/documents.js';
import { openDatabase } from '../db/client.js';
import { runMigrations } from '../db/migrate.js';
import { listTrustedDocuments } from '../db/trusted-documents.js';
import { ConfigError, loadEnv } from '../env.js';
import { schema as currentSchema } from './index.js';
import { schemaFile } from './print.js';

/** A registered document as the check sees it. */
export interface CheckedDocument {
  hash: string;
  apiKeyId: number | null;
  document: string;
}

/** What `checkSchema` found. */
export interface SchemaCheck {
  breaking: Change[];
  dangerous: Change[];
  safe: Change[];
  /** Documents that do not validate against the new schema, with graphql-js' reasons. */
  brokenDocuments: { document: CheckedDocument; errors: string[] }[];
}

/** Compares `oldSdl` with `newSchema` and validates `documents` against the new schema. */
export async function checkSchema(
  oldSdl: string,
  newSchema: GraphQLSchema,
  documents: CheckedDocument[],
): Promise<SchemaCheck> {
  const changes = await diff(buildSchema(oldSdl), newSchema);
  const level = (l: CriticalityLevel) => changes.filter((c) => c.criticality.level === l);
  const brokenDocuments: SchemaCheck['brokenDocuments'] = [];
  for (const document of documents) {
    let errors: string[];
    try {
      errors = validate(newSchema, parse(document.document)).map((error) => error.message);
    } catch (error) {
      errors = [(error as Error).message];
    }
    if (errors.length > 0) brokenDocuments.push({ document, errors });
  }
  return {
    breaking: level(CriticalityLevel.Breaking),
    dangerous: level(CriticalityLevel.Dangerous),
    safe: level(CriticalityLevel.NonBreaking),
    brokenDocuments,
  };
}

/** Registered documents from the configured database, or why there are none. */
async function registeredDocuments(
  source: Record<string, string | undefined>,
): Promise<{ documents: CheckedDocument[] } | { note: string }> {
  const env = loadEnv(source);
  if (!env.DATABASE_URL && !existsSync(env.CHIPGATE_PGLITE_DIR)) {
    return { note: 'no database configured: registered trusted documents were not checked' };
  }
  let handle: Awaited<ReturnType<typeof openDatabase>>;
  try {
    handle = await openDatabase({
      databaseUrl: env.DATABASE_URL,
      pgliteDir: env.CHIPGATE_PGLITE_DIR,
      poolMax: 2,
    });
  } catch (error) {
    return { note: `cannot read registered trusted documents: ${(error as Error).message}` };
  }
  try {
    await runMigrations(handle);
    return { documents: await listTrustedDocuments(handle.db) };
  } finally {
    await handle.close();
  }
}

/** The command: prints the changes and broken documents; returns the exit code. */
export async function runSchemaCheck(
  argv: string[],
  source: Record<string, string | undefined> = process.env,
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  if (argv.length > 1) {
    err('Usage: npm run schema:check [OLD_SCHEMA.graphql]');
    return 2;
  }
  const oldFile = argv[0] ?? schemaFile;
  let oldSdl: string;
  try {
    oldSdl = readFileSync(oldFile, 'utf8');
  } catch (error) {
    err(`schema:check: cannot read ${oldFile}: ${(error as Error).message}`);
    return 2;
  }
  let registered: Awaited<ReturnType<typeof registeredDocuments>>;
  try {
    registered = await registeredDocuments(source);
  } catch (error) {
    if (error instanceof ConfigError) {
      err(`schema:check: ${error.message}`);
      return 2;
    }
    throw error;
  }
  let result: SchemaCheck;
  try {
    result = await checkSchema(
      oldSdl,
      currentSchema,
      'documents' in registered ? registered.documents : [],
    );
  } catch (error) {
    err(`schema:check: ${oldFile} is not a schema: ${(error as Error).message}`);
    return 2;
  }
  const shown = path.relative(process.cwd(), oldFile) || oldFile;
  out(
    `Compared the code's schema with ${shown}: ${result.breaking.length} breaking, ` +
      `${result.dangerous.length} dangerous, ${result.safe.length} safe change(s).`,
  );
  for (const change of result.breaking) out(`  BREAKING   ${change.message}`);
  for (const change of result.dangerous) out(`  DANGEROUS  ${change.message}`);
  if ('note' in registered) out(`Note: ${registered.note}.`);
  else {
    out(
      `${registered.documents.length} registered trusted document(s), ` +
        `${result.brokenDocuments.length} no longer valid.`,
    );
  }
  for (const { document, errors } of result.brokenDocuments) {
    out(
      `  BROKEN DOCUMENT ${document.hash} (${operationNameOf(document.document)}, ` +
        `${document.apiKeyId === null ? 'every caller' : `API key ${document.apiKeyId}`}): ${errors.join(' ')}`,
    );
  }
  if (result.breaking.length > 0 || result.brokenDocuments.length > 0) {
    err('schema:check failed: the change breaks existing clients (see above).');
    return 1;
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = await runSchemaCheck(process.argv.slice(2));
}
