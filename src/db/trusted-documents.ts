/**
 * SQL for `trusted_documents`: register a manifest's documents (all or none), list, remove,
 * and look a document up by hash for the caller.
 */
import { and, asc, eq, isNull, or, sql } from 'drizzle-orm';
import type { Database } from './client.js';
import { trustedDocuments } from './schema.js';

/** A document ready to store: its SHA-256 (hex), text and, when fixed, its cost. */
export interface NewTrustedDocument {
  hash: string;
  document: string;
  cost: number | null;
}

/** A stored document. `apiKeyId` null: registered for every caller. */
export interface TrustedDocumentRow extends NewTrustedDocument {
  id: number;
  apiKeyId: number | null;
  createdAt: Date;
}

/**
 * Stores the documents for key `apiKeyId` (null: every caller) in one transaction; a hash
 * already registered for the same key is left as it is. Returns how many rows were added.
 */
export async function insertTrustedDocuments(
  db: Database,
  documents: NewTrustedDocument[],
  apiKeyId: number | null,
): Promise<number> {
  if (documents.length === 0) return 0;
  return db.transaction(async (tx) => {
    const rows = await tx
      .insert(trustedDocuments)
      .values(documents.map((document) => ({ ...document, apiKeyId })))
      .onConflictDoNothing()
      .returning({ id: trustedDocuments.id });
    return rows.length;
  });
}

/** Every registered document, by key (shared ones first), then hash. */
export function listTrustedDocuments(db: Database): Promise<TrustedDocumentRow[]> {
  return db
    .select()
    .from(trustedDocuments)
    .orderBy(
      sql`${trustedDocuments.apiKeyId} asc nulls first`,
      asc(trustedDocuments.hash),
      asc(trustedDocuments.id),
    );
}

/**
 * Removes the document `hash`: only key `apiKeyId`'s registration when given (null: only the
 * one for every caller), else every registration of the hash. Returns how many were removed.
 */
export async function removeTrustedDocument(
  db: Database,
  hash: string,
  apiKeyId?: number | null,
): Promise<number> {
  const key =
    apiKeyId === undefined
      ? undefined
      : apiKeyId === null
        ? isNull(trustedDocuments.apiKeyId)
        : eq(trustedDocuments.apiKeyId, apiKeyId);
  const rows = await db
    .delete(trustedDocuments)
    .where(and(eq(trustedDocuments.hash, hash), key))
    .returning({ id: trustedDocuments.id });
  return rows.length;
}

/**
 * The registration of `hash` that key `apiKeyId` may run (its own, else the one for every
 * caller), or undefined. `apiKeyId` null: anonymous callers, who may run shared ones only.
 */
export async function findTrustedDocument(
  db: Database,
  hash: string,
  apiKeyId: number | null,
): Promise<TrustedDocumentRow | undefined> {
  const rows = await db
    .select()
    .from(trustedDocuments)
    .where(
      and(
        eq(trustedDocuments.hash, hash),
        apiKeyId === null
          ? isNull(trustedDocuments.apiKeyId)
          : or(isNull(trustedDocuments.apiKeyId), eq(trustedDocuments.apiKeyId, apiKeyId)),
      ),
    )
    .orderBy(sql`${trustedDocuments.apiKeyId} asc nulls last`)
    .limit(1);
  return rows[0];
}
