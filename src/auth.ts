/**
 * API keys: their format, hashing, and turning an `Authorization` header value into the
 * `Viewer`. Transport-neutral: HTTP requests pass their header, a WebSocket connection its
 * `connectionParams.authorization`.
 *
 * A key is `cg_` followed by 43 base64url characters (32 random bytes). Only its SHA-256 hash
 * is stored; a presented key is looked up by hash and the hashes compared in constant time.
 * Keys never appear in logs or error messages.
 *
 * Concurrent requests share their statements (a reconnect storm brings thousands at once):
 * the lookups waiting while one runs, or made in the same turn of the event loop, go out as
 * one `key_hash in (...)` statement, each started after every request it answers arrived (so
 * a revocation committed before a request is always seen); a key's `last_used_at` update in
 * flight is joined rather than sent again.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type ApiKeyLimitSettings,
  type ApiKeyRecord,
  findApiKeysByHashes,
  touchApiKey,
} from './db/api-keys.js';
import type { Database } from './db/client.js';
import { type ApiKeyScope, apiKeyScope } from './db/schema.js';
import { UnauthenticatedError } from './errors.js';

/**
 * Who is calling: anonymous (no `Authorization` header; reads are open), or the API key the
 * request presented (see `authenticate` in auth.ts), with its row id, name, scopes and own
 * limits (null: the configured default).
 */
export type Viewer =
  | { kind: 'anonymous' }
  | {
      kind: 'apiKey';
      id: number;
      name: string;
      scopes: ApiKeyScope[];
      limits: ApiKeyLimitSettings;
    };

/** Every key starts with this, so leaked keys are easy to recognise (and to scan for). */
export const KEY_PREFIX = 'cg_';
const KEY_PATTERN = /^cg_[A-Za-z0-9_-]{43}$/;
/** How many leading characters of a key `keys list` shows (`cg_` and 7 more). */
export const SHOWN_PREFIX_LENGTH = 10;
/** `last_used_at` is written at most once per this many seconds per key. */
export const LAST_USED_RESOLUTION_SECONDS = 60;

/** A freshly generated key: the secret (shown once) and what is stored about it. */
export interface GeneratedKey {
  key: string;
  prefix: string;
  keyHash: string;
}

/** SHA-256 of a key, as 64 lower-case hex characters (the `api_keys.key_hash` format). */
export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** Generates a new random key (`cg_` + base64url of 32 random bytes). */
export function generateKey(): GeneratedKey {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { key, prefix: key.slice(0, SHOWN_PREFIX_LENGTH), keyHash: hashKey(key) };
}

/** The scopes a key may carry (the `api_key_scope` enum), for validating `keys create --scope`. */
export const API_KEY_SCOPES: readonly ApiKeyScope[] = apiKeyScope.enumValues;

const anonymous: Viewer = { kind: 'anonymous' };

/**
 * Resolves who is calling from an `Authorization` header value (`Bearer <key>`).
 * - No value (null, undefined or blank): the anonymous viewer (reads are open).
 * - A valid, unrevoked key: the API-key viewer with the key's id, name, scopes and own limits; its
 *   `last_used_at` is refreshed at most once a minute.
 * - Anything else (another scheme, a malformed, unknown or revoked key): throws
 *   `UnauthenticatedError` (code `UNAUTHENTICATED`), even for a read, so a partner learns that
 *   the key is bad instead of silently reading as anonymous.
 * At most one SELECT (shared with concurrent requests), plus one UPDATE per key per minute.
 */
export async function authenticate(
  db: Database,
  authorization: string | null | undefined,
): Promise<Viewer> {
  const value = authorization?.trim();
  if (!value) return anonymous;
  const match = /^Bearer\s+(\S+)$/i.exec(value);
  if (!match) {
    throw new UnauthenticatedError(
      'The Authorization header must be "Bearer <key>" with a chipgate API key.',
    );
  }
  const key = match[1] ?? '';
  if (!KEY_PATTERN.test(key)) {
    throw new UnauthenticatedError(
      'The API key is malformed: chipgate keys look like "cg_" followed by 43 characters.',
    );
  }
  const presented = Buffer.from(hashKey(key), 'hex');
  const record = await lookUp(db, presented.toString('hex'));
  const stored = record ? Buffer.from(record.keyHash, 'hex') : Buffer.alloc(0);
  if (!record || stored.length !== presented.length || !timingSafeEqual(stored, presented)) {
    throw new UnauthenticatedError('The API key is not known.');
  }
  if (record.revokedAt) {
    throw new UnauthenticatedError('The API key has been revoked.');
  }
  const stale =
    !record.lastUsedAt ||
    Date.now() - record.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_SECONDS * 1000;
  if (stale) await touch(db, record.id);
  return {
    kind: 'apiKey',
    id: record.id,
    name: record.name,
    scopes: record.scopes,
    limits: {
      rateLimit: record.rateLimit,
      costLimit: record.costLimit,
      maxSubscriptions: record.maxSubscriptions,
      persistedOnly: record.persistedOnly,
    },
  };
}

/**
 * The `Authorization` value of an HTTP request, or of a WebSocket connection: its
 * `connectionParams.authorization` (or `Authorization`; a value that is not a string counts as
 * a malformed key), else the upgrade request's `Authorization` header.
 */
export function authorizationOf(initial: {
  request?: Request;
  connectionParams?: Record<string, unknown>;
  req?: { headers: Record<string, string | string[] | undefined> };
}): string | null {
  const params = initial.connectionParams;
  const value = params?.authorization ?? params?.Authorization;
  if (value !== undefined && value !== null)
    return typeof value === 'string' ? value : String(value);
  if (initial.req) {
    const header = initial.req.headers.authorization;
    return typeof header === 'string' ? header : null;
  }
  return initial.request?.headers.get('authorization') ?? null;
}

/** The key lookups of one database waiting for their statement. */
interface Lookups {
  waiting: Map<
    string,
    { resolve: (record?: ApiKeyRecord) => void; reject: (e: unknown) => void }[]
  >;
  busy: boolean;
}

const lookups = new WeakMap<Database, Lookups>();
const touches = new WeakMap<Database, Map<number, Promise<void>>>();

/** The key with hash `keyHash`, looked up together with the concurrent lookups (see above). */
function lookUp(db: Database, keyHash: string): Promise<ApiKeyRecord | undefined> {
  let state = lookups.get(db);
  if (!state) {
    state = { waiting: new Map(), busy: false };
    lookups.set(db, state);
  }
  const batch = state;
  return new Promise((resolve, reject) => {
    const callers = batch.waiting.get(keyHash) ?? [];
    callers.push({ resolve, reject });
    batch.waiting.set(keyHash, callers);
    if (!batch.busy) {
      batch.busy = true;
      setImmediate(() => void flushLookups(db, batch));
    }
  });
}

/** Sends one statement for every waiting lookup, then again while more arrived meanwhile. */
async function flushLookups(db: Database, batch: Lookups): Promise<void> {
  while (batch.waiting.size > 0) {
    const waiting = batch.waiting;
    batch.waiting = new Map();
    try {
      const records = await findApiKeysByHashes(db, [...waiting.keys()]);
      const byHash = new Map(records.map((record) => [record.keyHash, record]));
      for (const [hash, callers] of waiting) {
        for (const caller of callers) caller.resolve(byHash.get(hash));
      }
    } catch (error) {
      for (const callers of waiting.values()) for (const caller of callers) caller.reject(error);
    }
  }
  batch.busy = false;
}

/** Refreshes a key's `last_used_at`, joining an update of it already in flight. */
function touch(db: Database, id: number): Promise<void> {
  let inFlight = touches.get(db);
  if (!inFlight) {
    inFlight = new Map();
    touches.set(db, inFlight);
  }
  const running = inFlight.get(id);
  if (running) return running;
  const map = inFlight;
  const update = touchApiKey(db, id, LAST_USED_RESOLUTION_SECONDS).finally(() => map.delete(id));
  map.set(id, update);
  return update;
}
