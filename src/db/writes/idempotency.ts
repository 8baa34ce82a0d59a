/**
 * Idempotency of create mutations (`idempotency_keys`): a create that carries an
 * `idempotencyKey` claims `(operation, key)` inside its own transaction, where `operation`
 * names the mutation and the API key that sent it (each client has its own keys). The first request
 * inserts the claim and, on success, stores its result; a retry within 24 hours with the same
 * input gets that result back; the same key with another input is a conflict. Concurrent
 * retries serialize on the primary key: the second waits for the first to commit (then replays
 * its result) or roll back (then runs itself). Claims older than 24 hours are taken over, and
 * deleted whenever a new claim is made.
 */
import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { ConflictError, NotFoundError } from '../../errors.js';
import type { Database } from '../client.js';
import { idempotencyKeys } from '../schema.js';
import { isUniqueViolation, type Transaction } from './common.js';

/** How long a key and its result are kept, in hours (api.md: 24 h). */
export const IDEMPOTENCY_WINDOW_HOURS = 24;

/**
 * JSON with object keys sorted at every level and null or absent fields left out, so equal
 * inputs hash equally (an explicit `null` for an optional field means the same as leaving it
 * out in a create). Nulls inside lists are kept: there, position matters.
 */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v != null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** SHA-256 (hex) of an input's canonical JSON. */
export const requestHash = (input: unknown): string =>
  createHash('sha256').update(canonicalJson(input)).digest('hex');

/** The outcome of a claim: run the mutation, or replay the stored result. */
export type Claim<Result> = { kind: 'run' } | { kind: 'replay'; result: Result };

/**
 * Claims `(operation, key)` for `hash` in `tx`. Returns `run` when this transaction owns the
 * key (then call `storeResult` before committing), `replay` with the stored result when the
 * same input already succeeded within the window. Throws `ConflictError` when the key was used
 * with a different input within the window.
 */
export async function claimIdempotencyKey<Result>(
  tx: Transaction,
  operation: string,
  key: string,
  hash: string,
): Promise<Claim<Result>> {
  const expired = sql`${idempotencyKeys.createdAt} < now() - make_interval(hours => ${IDEMPOTENCY_WINDOW_HOURS})`;
  const claimed = await tx
    .insert(idempotencyKeys)
    .values({ operation, key, requestHash: hash, result: sql`'null'::jsonb` })
    .onConflictDoUpdate({
      target: [idempotencyKeys.operation, idempotencyKeys.key],
      set: { requestHash: hash, result: sql`'null'::jsonb`, createdAt: sql`now()` },
      setWhere: expired,
    })
    .returning({ key: idempotencyKeys.key });
  if (claimed.length > 0) {
    // Keep the table to one window's worth of keys (the created_at index makes this cheap).
    await tx.delete(idempotencyKeys).where(expired);
    return { kind: 'run' };
  }
  const [existing] = await tx
    .select({ requestHash: idempotencyKeys.requestHash, result: idempotencyKeys.result })
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.operation, operation), eq(idempotencyKeys.key, key)));
  if (!existing) throw new Error('claimIdempotencyKey: claim vanished');
  if (existing.requestHash !== hash) {
    throw new ConflictError(
      `The idempotency key "${key}" was used in the last ${IDEMPOTENCY_WINDOW_HOURS} hours with a different input. Use a new key for a new request.`,
    );
  }
  return { kind: 'replay', result: existing.result as Result };
}

/** Stores the result of the mutation that owns `(operation, key)`, in the same transaction. */
export async function storeResult(
  tx: Transaction,
  operation: string,
  key: string,
  result: unknown,
): Promise<void> {
  await tx
    .update(idempotencyKeys)
    .set({ result })
    .where(and(eq(idempotencyKeys.operation, operation), eq(idempotencyKeys.key, key)));
}

/** What `createOnce` needs to know about one create. */
export interface CreateOnceOptions<Row extends { slug: string }> {
  /** The mutation's name, the first half of the idempotency record's key. */
  operation: string;
  /**
   * The API key making the request: its keys are its own, so the stored operation is
   * `<operation>@<apiKeyId>` (plain `<operation>` without a key, e.g. for in-process callers).
   */
  apiKeyId: number | undefined;
  /** The caller's idempotency key, if any. */
  idempotencyKey: string | null | undefined;
  /** The input without the idempotency key; its hash tells a retry from a different request. */
  request: unknown;
  /** The message of the ConflictError when the slug is taken. */
  slugTaken: string;
  /** Loads the row a stored result names (by slug). */
  find: (tx: Transaction, slug: string) => Promise<Row | undefined>;
  /** Checks and writes; throws the typed errors. Runs only when this request owns the key. */
  create: (tx: Transaction) => Promise<Row>;
}

/**
 * Runs a create in one transaction, at most once per idempotency key: a retry within the
 * window gets the first request's row back (`replayed: true`), re-read by its slug. A unique
 * violation (the slug taken by a concurrent writer) becomes `ConflictError(slugTaken)`.
 */
export async function createOnce<Row extends { slug: string }>(
  db: Database,
  options: CreateOnceOptions<Row>,
): Promise<{ row: Row; replayed: boolean }> {
  const { idempotencyKey: key } = options;
  const operation =
    options.apiKeyId === undefined ? options.operation : `${options.operation}@${options.apiKeyId}`;
  try {
    return await db.transaction(async (tx) => {
      if (key) {
        const claim = await claimIdempotencyKey<{ slug: string }>(
          tx,
          operation,
          key,
          requestHash(options.request),
        );
        if (claim.kind === 'replay') {
          const row = await options.find(tx, claim.result.slug);
          if (!row) {
            throw new NotFoundError(
              `"${claim.result.slug}", created with this idempotency key, no longer exists.`,
            );
          }
          return { row, replayed: true };
        }
      }
      const row = await options.create(tx);
      if (key) await storeResult(tx, operation, key, { slug: row.slug });
      return { row, replayed: false };
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(options.slugTaken);
    throw error;
  }
}
