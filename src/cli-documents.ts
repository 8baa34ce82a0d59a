/**
 * `npm run chipgate -- documents ...`: trusted documents.
 *
 *   documents add [--key ID] MANIFEST.json   register a manifest (all entries or none)
 *   documents list                           hash, key, operation, cost, registered
 *   documents remove HASH [--key ID|--shared] remove a registration
 */
import { readFileSync } from 'node:fs';
import {
  isDocumentHash,
  operationNameOf,
  prepareManifest,
  type RegistrationLimits,
} from './access/documents.js';
import { parseId, printTable, readFlags } from './cli-common.js';
import { listApiKeys } from './db/api-keys.js';
import type { Database } from './db/client.js';
import {
  insertTrustedDocuments,
  listTrustedDocuments,
  removeTrustedDocument,
} from './db/trusted-documents.js';
import { loadEnv, queryLimitsOf } from './env.js';
import { schema } from './schema/index.js';

/** Usage lines of the documents commands, for the CLI's help. */
export const DOCUMENTS_USAGE = `  documents add [--key ID] MANIFEST.json
            Register the trusted documents of a manifest ({"<sha256>": "<document>"},
            as GraphQL Code Generator's client preset and Relay write it) for key ID,
            or for every caller without --key. Every hash and document is checked
            against the schema and the per-operation limits (CHIPGATE_MAX_COST,
            CHIPGATE_MAX_DEPTH, at their worst: page sizes given by variables at their
            maximum) and the limits of a request's document (CHIPGATE_MAX_TOKENS,
            CHIPGATE_MAX_ALIASES, directives, CHIPGATE_MAX_FIELD_REPEATS,
            CHIPGATE_MAX_FRAGMENT_SPREADS, CHIPGATE_MAX_SELECTIONS) first;
            one bad entry registers nothing.
  documents list
            List registered documents: hash, key, operation, cost, registered.
  documents remove HASH [--key ID | --shared]
            Remove the document HASH (of key ID, or the shared one; else every one).`;

/** A parsed `documents` subcommand. */
export type DocumentsCommand =
  | { action: 'add'; file: string; keyId: number | null }
  | { action: 'list' }
  | { action: 'remove'; hash: string; keyId?: number | null };

/** Parses `documents ...` arguments; a string is a usage error. */
export function parseDocumentsCommand(args: string[]): DocumentsCommand | string {
  const [action, ...rest] = args;
  if (action === 'list') {
    return rest.length === 0 ? { action } : '"documents list" takes no arguments.';
  }
  const flags = readFlags(rest, {
    key: { type: 'string', multiple: true },
    shared: { type: 'boolean' },
  });
  const keys = (flags.values.key ?? []) as string[];
  let keyId: number | null | undefined;
  if (keys.length > 0) {
    keyId = parseId(keys[0]);
    if (keyId === undefined || keys.length > 1) {
      return `"documents ${action}": --key takes one key id (see "keys list").`;
    }
  }
  if (flags.values.shared === true && action === 'remove') {
    if (keyId !== undefined) return '"documents remove": give --key or --shared, not both.';
    keyId = null;
  }
  // A flag the command does not take (`--shared` is for `remove` only) is a usage error.
  const unexpected =
    flags.bad !== undefined || (flags.values.shared !== undefined && action !== 'remove');
  const positional = flags.positionals;
  if (action === 'add') {
    const [file, ...extra] = positional;
    if (!file || extra.length > 0 || unexpected) {
      return '"documents add" takes [--key ID] and one manifest file (JSON).';
    }
    return { action, file, keyId: keyId ?? null };
  }
  if (action === 'remove') {
    const [hash, ...extra] = positional;
    if (!hash || extra.length > 0 || unexpected || !isDocumentHash(hash)) {
      return '"documents remove" takes one document hash (64 hex characters, see "documents list").';
    }
    return keyId === undefined ? { action, hash } : { action, hash, keyId };
  }
  return action
    ? `unknown documents command "${action}" (add, list or remove).`
    : 'documents: say add, list or remove.';
}

/**
 * Runs a parsed `documents` command against an open, migrated database; `limits` are the
 * per-operation limits registered documents must fit (default: the configuration's defaults).
 */
export async function runDocumentsCommand(
  db: Database,
  command: DocumentsCommand,
  out: (line: string) => void,
  err: (line: string) => void,
  limits: RegistrationLimits = queryLimitsOf(loadEnv({})),
): Promise<number> {
  if (command.action === 'add') {
    let text: string;
    try {
      text = readFileSync(command.file, 'utf8');
    } catch (error) {
      err(`chipgate: cannot read ${command.file}: ${(error as Error).message}`);
      return 1;
    }
    if (command.keyId !== null) {
      const keys = await listApiKeys(db);
      if (!keys.some((key) => key.id === command.keyId)) {
        err(`chipgate: no API key with id ${command.keyId} (see "keys list").`);
        return 1;
      }
    }
    const prepared = prepareManifest(schema, text, limits);
    if ('problems' in prepared) {
      err(`chipgate: ${command.file}: nothing registered, ${prepared.problems.length} problem(s):`);
      for (const problem of prepared.problems) err(`  - ${problem}`);
      return 1;
    }
    const added = await insertTrustedDocuments(db, prepared.documents, command.keyId);
    const owner = command.keyId === null ? 'every caller' : `API key ${command.keyId}`;
    out(
      `Registered ${added} trusted document(s) for ${owner} from ${command.file}` +
        (added < prepared.documents.length
          ? ` (${prepared.documents.length - added} already registered).`
          : '.'),
    );
    return 0;
  }
  if (command.action === 'list') {
    const rows = await listTrustedDocuments(db);
    const table = [
      ['HASH', 'KEY', 'OPERATION', 'COST', 'REGISTERED'],
      ...rows.map((row) => [
        row.hash,
        row.apiKeyId === null ? 'all' : String(row.apiKeyId),
        operationNameOf(row.document),
        row.cost === null ? 'per request' : String(row.cost),
        row.createdAt.toISOString(),
      ]),
    ];
    printTable(out, table);
    return 0;
  }
  const removed = await removeTrustedDocument(db, command.hash, command.keyId);
  if (removed === 0) {
    err(`chipgate: no such registered document ${command.hash} (see "documents list").`);
    return 1;
  }
  out(`Removed ${removed} registration(s) of ${command.hash}.`);
  return 0;
}
