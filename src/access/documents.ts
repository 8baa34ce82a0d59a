/**
 * Trusted documents: the operations a partner registers from a manifest in the
 * `{ "<sha256 of the document>": "<document>" }` form that GraphQL Code Generator's client
 * preset and Relay emit, and runs by id (`documentId`, or APQ's
 * `extensions.persistedQuery.sha256Hash`).
 *
 * A manifest is checked whole before anything is stored: every hash must be the SHA-256 of
 * its document, every document must meet the admission rules of a request (tokens, aliases,
 * directives, shape: `src/admission.ts`), parse and validate against the schema, and each of its
 * operations must fit the per-operation limits at its worst case (`worstCase`), so
 * one bad entry rejects the file and no registered document is one that can never run. A
 * document that declares no variables has a fixed cost, computed once when it is registered
 * and stored with it; one with variables is costed per request (its page sizes are usually
 * variables).
 */
import { createHash } from 'node:crypto';
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLInputType,
  type GraphQLSchema,
  getNamedType,
  getVariableValues,
  isEnumType,
  isListType,
  isNonNullType,
  Kind,
  type OperationDefinitionNode,
  parse,
  typeFromAST,
  validate,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { type AdmissionLimits, admissionError } from '../admission.js';
import { MAX_LIST_ARGUMENT } from '../cost.js';
import type { Database } from '../db/client.js';
import {
  findTrustedDocument,
  listTrustedDocuments,
  type NewTrustedDocument,
  type TrustedDocumentRow,
} from '../db/trusted-documents.js';
import { inputLimitError } from '../input-limits.js';
import type { QueryLimits } from '../operation-limits.js';
import { type OperationComplexity, operationComplexity } from '../operation-limits.js';
import { MAX_PAGE_SIZE } from '../paging.js';

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

/** A sample entry of a list variable, by the list's item type (null: none is needed). */
function sampleItem(type: GraphQLInputType): unknown {
  const named = getNamedType(type);
  if (named.name === 'ID' || named.name === 'String') return 'x';
  if (named.name === 'Int') return 0;
  if (isEnumType(named)) return named.getValues()[0]?.name ?? null;
  return null;
}

/** One operation of a document as its costliest request would send it (`worstCase`). */
export interface WorstCase {
  /** The operation with every variable optional, and its document (with the fragments). */
  operation: OperationDefinitionNode;
  document: DocumentNode;
  /** The variables of that request. */
  variables: Record<string, unknown>;
  /** Its depth and cost, as the limits judge them. */
  complexity: OperationComplexity;
}

/**
 * One operation of a document at its worst case, as the limits would judge a request of it:
 * variables with a default count at their default; an `Int` variable without one at the
 * largest value up to `MAX_PAGE_SIZE` the operation accepts (page sizes at the maximum page
 * size); a list variable of ids (or other plain values) at `MAX_LIST_ARGUMENT` entries; every
 * other variable absent. Throws `GraphQLError` when even that refuses the operation's
 * arguments (e.g. a literal page size out of range).
 */
export function worstCase(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): WorstCase {
  // Every variable optional, so the ones the cost does not depend on may stay absent.
  const relaxed: OperationDefinitionNode = {
    ...operation,
    variableDefinitions: operation.variableDefinitions?.map((definition) => ({
      ...definition,
      type: definition.type.kind === Kind.NON_NULL_TYPE ? definition.type.type : definition.type,
    })),
  };
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
  const relaxedDocument: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [relaxed, ...fragments],
  };
  const variables: Record<string, unknown> = {};
  const costOf = () =>
    operationComplexity({
      schema,
      document: relaxedDocument,
      operationName: operation.name?.value ?? null,
      variableValues: { ...variables },
      // A subscription over SSE may resume from `Last-Event-ID`: priced as with `after:`.
      contextValue: { lastEventId: '' },
    });
  const accepts = () => {
    try {
      costOf();
      return true;
    } catch (error) {
      if (error instanceof GraphQLError) return false;
      throw error;
    }
  };
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue) continue;
    const name = definition.variable.name.value;
    const type = typeFromAST(schema, definition.type) as GraphQLInputType | undefined;
    const inner = type && isNonNullType(type) ? type.ofType : type;
    if (inner && isListType(inner)) {
      const item = sampleItem(inner.ofType);
      if (item !== null) variables[name] = Array(MAX_LIST_ARGUMENT).fill(item);
      if (!accepts()) delete variables[name];
    } else if (inner && getNamedType(inner).name === 'Int') {
      // The largest accepted value: page sizes are checked against their own maximum.
      let [low, high] = [0, MAX_PAGE_SIZE];
      variables[name] = low;
      if (!accepts()) {
        delete variables[name];
        continue;
      }
      while (low < high) {
        const middle = Math.ceil((low + high) / 2);
        variables[name] = middle;
        if (accepts()) low = middle;
        else high = middle - 1;
      }
      variables[name] = low;
    }
  }
  const complexity = costOf();
  if (!complexity) throw new Error('worstCase: the operation is not in its document');
  return { operation: relaxed, document: relaxedDocument, variables, complexity };
}

/**
 * Why a document can never run within `limits`, or undefined: the first of its operations that
 * passes a value over its limit (`inputLimitError`: a literal too long) or whose worst-case
 * depth or cost (`worstCase`) is over them, named with its numbers.
 */
export function overLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  limits: Pick<QueryLimits, 'maxCost' | 'maxDepth'>,
): string | undefined {
  for (const operation of document.definitions) {
    if (operation.kind !== Kind.OPERATION_DEFINITION) continue;
    const name = operation.name ? `operation "${operation.name.value}"` : 'its operation';
    const worst = worstCase(schema, document, operation);
    const coerced = getVariableValues(
      schema,
      worst.operation.variableDefinitions ?? [],
      worst.variables,
    ).coerced;
    const input = coerced && inputLimitError(schema, worst.document, worst.operation, coerced);
    if (input) return `${name} passes a value over its limit: ${input.message}`;
    const { depth, complexity } = worst.complexity;
    if (complexity > limits.maxCost) {
      return (
        `${name} costs ${complexity} at its worst, over the per-operation limit of ` +
        `${limits.maxCost} (CHIPGATE_MAX_COST; page sizes given by variables without a ` +
        `default count at ${MAX_PAGE_SIZE}, id lists at ${MAX_LIST_ARGUMENT})`
      );
    }
    if (depth > limits.maxDepth) {
      return `${name} is ${depth} deep, over the per-operation limit of ${limits.maxDepth} (CHIPGATE_MAX_DEPTH)`;
    }
  }
  return undefined;
}

/** The limits a registered document must fit: the admission rules' and the operation limits. */
export type RegistrationLimits = Pick<QueryLimits, 'maxCost' | 'maxDepth'> & AdmissionLimits;

/**
 * Checks a manifest's text (JSON object of hash to document) against the schema and the
 * per-operation `limits`: the admission rules a request's document meets (tokens, aliases,
 * directives, shape: `admissionError`), then validation, then worst-case cost and depth.
 * Returns the documents to store, or every problem found (then nothing may be stored).
 */
export function prepareManifest(
  schema: GraphQLSchema,
  text: string,
  limits: RegistrationLimits,
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
    const refused = admissionError(schema, text, limits);
    if (refused) {
      problems.push(`${shown}: the document would be refused at request time: ${refused}`);
      continue;
    }
    const checked = checkDocument(schema, text);
    if ('error' in checked) {
      problems.push(`${shown}: the document ${checked.error}`);
      continue;
    }
    let cost: number | null;
    try {
      const over = overLimits(schema, checked.document, limits);
      if (over) {
        problems.push(`${shown}: the document can never run: ${over}`);
        continue;
      }
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
