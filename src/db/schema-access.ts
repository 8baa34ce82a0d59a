/**
 * The tables of partner access: API keys with their scopes and own limits, the trusted
 * documents registered for them, and their daily usage. Part of the store's schema
 * (re-exported by `schema.ts`, which drizzle-kit and the relations read).
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  date,
  integer,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
} from 'drizzle-orm/pg-core';

/**
 * What an API key may do. `write` allows mutations (reads are open to anonymous callers);
 * `metrics` allows scraping `GET /metrics` on the main port.
 */
export const apiKeyScope = pgEnum('api_key_scope', ['read', 'write', 'metrics']);
export type ApiKeyScope = (typeof apiKeyScope.enumValues)[number];

/**
 * API keys. Only a SHA-256 hash of the key is stored (`key_hash`, 32 bytes as hex); the key
 * itself is shown once by `npm run chipgate -- keys create`. `prefix` holds the key's first
 * characters so operators can tell keys apart in `keys list` without the secret. A key with
 * `revoked_at` set no longer authenticates.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    keyHash: text('key_hash').notNull().unique(),
    scopes: apiKeyScope('scopes').array().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    /** Requests per minute this key may send; null: the configured default for keys. */
    rateLimit: integer('rate_limit'),
    /** Query cost per minute this key may spend; null: the configured default for keys. */
    costLimit: integer('cost_limit'),
    /** Subscriptions this key may hold open at once; null: the configured default for keys. */
    maxSubscriptions: integer('max_subscriptions'),
    /** When true, the key may run registered trusted documents only (no query text). */
    persistedOnly: boolean('persisted_only').notNull().default(false),
  },
  (t) => [
    check('api_keys_name_not_blank', sql`length(btrim(${t.name})) > 0`),
    check('api_keys_rate_limit_positive', sql`${t.rateLimit} is null or ${t.rateLimit} > 0`),
    check('api_keys_cost_limit_positive', sql`${t.costLimit} is null or ${t.costLimit} > 0`),
    check(
      'api_keys_max_subscriptions_not_negative',
      sql`${t.maxSubscriptions} is null or ${t.maxSubscriptions} >= 0`,
    ),
  ],
);

/**
 * Trusted documents: operations registered from a manifest (`{ "<sha256 hex>": "<document>" }`)
 * for one key (`api_key_id`) or for every caller (null). `hash` is the SHA-256 of `document`
 * (checked when registering). `cost` is the operation's query cost when it does not depend on
 * variables (the document declares none), computed once at registration; null otherwise.
 */
export const trustedDocuments = pgTable(
  'trusted_documents',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    hash: text('hash').notNull(),
    apiKeyId: integer('api_key_id').references(() => apiKeys.id, { onDelete: 'cascade' }),
    document: text('document').notNull(),
    cost: integer('cost'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique('trusted_documents_hash_key').on(t.hash, t.apiKeyId).nullsNotDistinct(),
    check('trusted_documents_hash_sha256', sql`${t.hash} ~ '^[0-9a-f]{64}$'`),
  ],
);

/**
 * Usage per API key and UTC day: requests, query cost and responses with errors. The gateway
 * adds to these rows from memory about once a minute (never one write per request).
 */
export const apiKeyUsage = pgTable(
  'api_key_usage',
  {
    apiKeyId: integer('api_key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    day: date('day').notNull(),
    requests: bigint('requests', { mode: 'number' }).notNull().default(0),
    cost: bigint('cost', { mode: 'number' }).notNull().default(0),
    errors: bigint('errors', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.day] })],
);
