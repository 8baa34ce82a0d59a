/**
 * Trusted documents: the operations a partner registers from a manifest in the
 * `{ "<sha256 of the document>": "<document>" }` form that GraphQL Code Generator's client
 * preset and Relay emit, and runs by id (`documentId`, or APQ's
 * `extensions.persistedQuery.sha256Hash`).
 *
 * A manifest is checked whole before anything is stored: every hash must be the SHA-256 of
 * its document and every document must parse and validate against the schema, so one bad
 * entry rejects the file. A document that declares no variables has a fixed cost, computed
 * once when it is registered and stored with it; one with variables is costed per request
 * (its page sizes are usually variables).
 */
import { createHash } from 'node:crypto';
import { type DocumentNode, type GraphQLSchema, Kind, parse, validate } from 'graphql';
import { LRUCache } from 'lru-cache';
import { operationComplexity } from '../builder.js';
import type { Database } from '../db/client.js';
import {
  findTrustedDocument,
  listTrustedDocuments,
  type NewTrustedDocument,
  type TrustedDocumentRow,
} from '../db/trusted-documents.js';

/** SHA-256 of a document's text, lower-case hex (how manifests name documents). */
export const documentHash = (document: string): string =>
  createHash('sha256').update(document, 'utf8').digest('hex');

const SHA256 = /^[0-9a-f]{64}$/;

/** Whether `value` looks like a document id we could have registered (64 hex characters). */
export const isDocumentHash = (value: string): boolean => SHA256.test(value);

/** The operations of a document that validates, or why it does not. */
function checkDocument(
  schema: GraphQLSchema,
  text: string,
): { document: DocumentNode } | { error: string } {
  let document: DocumentNode;
  try {
    document = parse(text);
  } catch (error) {
    return { error: `does not parse: ${(error as Error).message}` };
  }
  const errors = validate(schema, document);
  if (errors.length > 0) {
    return { error: `does not validate: ${errors.map((e) => e.message).join(' ')}` };
  }
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length === 0) return { error: 'has no operation' };
  return { document };
}

/**
 * The fixed cost of a document without variables (its single operation's complexity), or
 * null when it declares variables or holds several operations (then it is costed per request).
 */
export function fixedCost(schema: GraphQLSchema, document: DocumentNode): number | null {
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const [operation] = operations;
  if (operations.length !== 1 || !operation || operation.variableDefinitions?.length) return null;
  return operationComplexity({ schema, document, operationName: null })?.complexity ?? null;
}

/**
 * Checks a manifest's text (JSON object of hash to document) against the schema. Returns the
 * documents to store, or every problem found (then nothing may be stored).
 */
export function prepareManifest(
  schema: GraphQLSchema,
  text: string,
): { documents: NewTrustedDocument[] } | { problems: string[] } {
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    return { problems: [`the manifest is not JSON: ${(error as Error).message}`] };
  }
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) {
    return {
      problems: ['the manifest must be a JSON object of "<sha256 hex>": "<document>" entries'],
    };
  }
  const problems: string[] = [];
  const documents: NewTrustedDocument[] = [];
  const entries = Object.entries(manifest as Record<string, unknown>);
  if (entries.length === 0) problems.push('the manifest lists no documents');
  for (const [rawHash, text] of entries) {
    const hash = rawHash.replace(/^sha256:/, '').toLowerCase();
    const shown = rawHash.length > 70 ? `${rawHash.slice(0, 70)}...` : rawHash;
    if (typeof text !== 'string') {
      problems.push(`${shown}: the document must be a string`);
      continue;
    }
    if (!isDocumentHash(hash)) {
      problems.push(`${shown}: not a SHA-256 hash (64 hex characters)`);
      continue;
    }
    const actual = documentHash(text);
    if (actual !== hash) {
      problems.push(`${shown}: the hash is not the document's SHA-256 (that is ${actual})`);
      continue;
    }
    const checked = checkDocument(schema, text);
    if ('error' in checked) {
      problems.push(`${shown}: the document ${checked.error}`);
      continue;
    }
    let cost: number | null;
    try {
      cost = fixedCost(schema, checked.document);
    } catch (error) {
      problems.push(
        `${shown}: the document's arguments are out of range: ${(error as Error).message}`,
      );
      continue;
    }
    documents.push({ hash, document: text, cost });
  }
  return problems.length > 0 ? { problems } : { documents };
}

/** Registered documents that no longer validate against `schema`, with the reason. */
export async function brokenDocuments(
  db: Database,
  schema: GraphQLSchema,
): Promise<{ row: TrustedDocumentRow; error: string }[]> {
  const broken: { row: TrustedDocumentRow; error: string }[] = [];
  for (const row of await listTrustedDocuments(db)) {
    const checked = checkDocument(schema, row.document);
    if ('error' in checked) broken.push({ row, error: checked.error });
  }
  return broken;
}

/** A registered document as requests use it: parsed once, with its fixed cost if any. */
export interface TrustedDocument {
  hash: string;
  document: DocumentNode;
  cost: number | null;
}

/**
 * Looks registered documents up for requests: by hash, for the calling key (its own, else one
 * for every caller). Found documents are kept parsed for `ttlMs` (so a removal takes effect
 * within it on every instance); unknown ids are asked of the database each time, so a new
 * registration works at once.
 */
export class TrustedDocuments {
  private readonly cache: LRUCache<string, TrustedDocument>;
  private readonly documents = new WeakMap<DocumentNode, TrustedDocument>();

  constructor(
    private readonly db: Database,
    options: { max?: number; ttlMs?: number } = {},
  ) {
    this.cache = new LRUCache({ max: options.max ?? 1_000, ttl: options.ttlMs ?? 60_000 });
  }

  /** The document `hash` that key `apiKeyId` (null: anonymous) may run, or undefined. */
  async find(hash: string, apiKeyId: number | null): Promise<TrustedDocument | undefined> {
    if (!isDocumentHash(hash)) return undefined;
    const id = `${apiKeyId ?? '*'}:${hash}`;
    const cached = this.cache.get(id);
    if (cached) return cached;
    const row = await findTrustedDocument(this.db, hash, apiKeyId);
    if (!row) return undefined;
    const found: TrustedDocument = { hash, document: parse(row.document), cost: row.cost };
    this.cache.set(id, found);
    this.documents.set(found.document, found);
    return found;
  }

  /** The registered document a parsed document came from (same object), or undefined. */
  of(document: DocumentNode): TrustedDocument | undefined {
    return this.documents.get(document);
  }
}

/** The name of the operation a document's text holds (for logs and listings). */
export function operationNameOf(text: string): string {
  try {
    const operations = parse(text).definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    return operations.map((o) => o.name?.value ?? '(anonymous)').join(', ') || '(none)';
  } catch {
    return '(does not parse)';
  }
}
