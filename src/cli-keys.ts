/**
 * `npm run chipgate -- keys ...`: API keys and their limits.
 *
 *   keys create --name N --scope S [--scope S] [LIMITS]   create a key; printed once, alone on
 *                                                         the last line of stdout
 *   keys update ID LIMITS                                 change a key's limits
 *   keys usage ID [--days N]                              requests, cost and errors per day
 *   keys list                                             id, name, prefix, scopes, dates, limits
 *   keys revoke ID                                        revoke a key (it stops authenticating)
 */
import { API_KEY_SCOPES, generateKey } from './auth.js';
import { type FlagOptions, type Flags, parseId, printTable, readFlags } from './cli-common.js';
import {
  type ApiKeyLimitSettings,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  updateApiKeyLimits,
} from './db/api-keys.js';
import type { Database } from './db/client.js';
import type { ApiKeyScope } from './db/schema.js';
import { usageOfKey } from './db/usage.js';

/** Usage lines of the keys commands, for the CLI's help. */
export const KEYS_USAGE = `  keys create --name NAME --scope write [--scope read] [LIMITS]
            Create an API key. The key is printed once, alone on the last line of
            stdout; only its hash is stored. --scope may be repeated (read, write, metrics).
            LIMITS override the configured defaults for this key:
            --rate-limit N (requests/min), --cost-limit N (query cost/min),
            --max-subscriptions N (open at once), --persisted-only (registered
            trusted documents only).
  keys update ID LIMITS
            Change a key's limits; "default" returns one to the configured default
            (--rate-limit default); --no-persisted-only lifts --persisted-only.
  keys usage ID [--days N]
            Requests, query cost and errors per day (UTC) of the last N days
            (default 7), as the gateways stored them (about once a minute).
  keys list
            List keys: id, name, prefix, scopes, dates, limits.
  keys revoke ID
            Revoke the key with this id; requests with it get UNAUTHENTICATED.`;

/** A parsed `keys` subcommand. */
export type KeysCommand =
  | { action: 'create'; name: string; scopes: ApiKeyScope[]; limits: Partial<ApiKeyLimitSettings> }
  | { action: 'update'; id: number; limits: Partial<ApiKeyLimitSettings> }
  | { action: 'usage'; id: number; days: number }
  | { action: 'list' }
  | { action: 'revoke'; id: number };

const LIMIT_FLAGS = {
  'rate-limit': { column: 'rateLimit', what: 'requests per minute', min: 1 },
  'cost-limit': { column: 'costLimit', what: 'query cost per minute', min: 1 },
  'max-subscriptions': { column: 'maxSubscriptions', what: 'open subscriptions', min: 0 },
} as const;
const LIMIT_USAGE =
  '--rate-limit N, --cost-limit N, --max-subscriptions N (or "default"), --persisted-only, --no-persisted-only';

/** The flags that set a key's limits, as `readFlags` takes them. */
const LIMIT_OPTIONS: FlagOptions = {
  'rate-limit': { type: 'string' },
  'cost-limit': { type: 'string' },
  'max-subscriptions': { type: 'string' },
  'persisted-only': { type: 'boolean' },
  'no-persisted-only': { type: 'boolean' },
};

/**
 * The limits the flags set (`default` clears one: `update` only; of `--persisted-only` and
 * `--no-persisted-only`, the last given wins), or an error message.
 */
function readLimits(
  command: 'create' | 'update',
  flags: Flags,
): Partial<ApiKeyLimitSettings> | string {
  const limits: Partial<ApiKeyLimitSettings> = {};
  for (const [flag, { column, what, min }] of Object.entries(LIMIT_FLAGS)) {
    const value = flags.values[flag];
    if (value === undefined) continue;
    if (value === 'default' && command === 'update') {
      limits[column] = null;
      continue;
    }
    if (
      typeof value !== 'string' ||
      !/^\d{1,10}$/.test(value) ||
      Number(value) < min ||
      Number(value) > 2_147_483_647
    ) {
      return `"keys ${command}": --${flag} takes ${what}, a whole number from ${min}${command === 'update' ? ' (or "default")' : ''}.`;
    }
    limits[column] = Number(value);
  }
  const persisted = flags.order.filter((name) => name.endsWith('persisted-only')).at(-1);
  if (persisted) limits.persistedOnly = persisted === 'persisted-only';
  return limits;
}

/** Parses `keys ...` arguments; returns an error message for bad usage. */
export function parseKeysCommand(args: string[]): KeysCommand | string {
  const [action, ...rest] = args;
  if (action === 'list') {
    return rest.length === 0
      ? { action }
      : `"keys list" takes no arguments (got ${rest.join(' ')}).`;
  }
  if (action === 'revoke') {
    const [id, ...extra] = rest;
    const parsed = parseId(id);
    if (parsed === undefined || extra.length > 0) {
      return '"keys revoke" takes one key id (a positive whole number, see "keys list").';
    }
    return { action, id: parsed };
  }
  if (action === 'usage') {
    const [id, flag, value, ...extra] = rest;
    const parsed = parseId(id);
    const days = flag === undefined ? 7 : Number(value);
    if (
      parsed === undefined ||
      extra.length > 0 ||
      (flag !== undefined &&
        (flag !== '--days' || !/^\d+$/.test(value ?? '') || days < 1 || days > 366))
    ) {
      return '"keys usage" takes one key id and optionally --days N (1-366, default 7).';
    }
    return { action, id: parsed, days };
  }
  if (action === 'update') {
    const [id, ...flags] = rest;
    const parsed = parseId(id);
    if (parsed === undefined) return '"keys update" takes a key id, then the limits to change.';
    const read = readFlags(flags, LIMIT_OPTIONS);
    if (read.bad || read.positionals.length > 0) {
      return `"keys update" takes ${LIMIT_USAGE} (got ${flags.join(' ')}).`;
    }
    const limits = readLimits('update', read);
    if (typeof limits === 'string') return limits;
    if (Object.keys(limits).length === 0) {
      return `"keys update" needs at least one change: ${LIMIT_USAGE}.`;
    }
    return { action, id: parsed, limits };
  }
  if (action !== 'create') {
    return action
      ? `unknown keys command "${action}" (create, update, usage, list or revoke).`
      : 'keys: say create, update, usage, list or revoke.';
  }
  const read = readFlags(rest, {
    ...LIMIT_OPTIONS,
    name: { type: 'string', multiple: true },
    scope: { type: 'string', multiple: true },
  });
  if (read.bad || read.positionals.length > 0) {
    return `"keys create" takes --name NAME and --scope SCOPE, and optionally ${LIMIT_USAGE} (got ${rest.join(' ')}).`;
  }
  const limits = readLimits('create', read);
  if (typeof limits === 'string') return limits;
  const names = (read.values.name ?? []) as string[];
  if (names.length > 1) return '"keys create": give --name once.';
  const name = names[0]?.trim();
  if (names[0] !== undefined && (name === '' || (names[0] as string).length > 200)) {
    return '"keys create": --name must be 1 to 200 characters.';
  }
  const scopes = new Set<ApiKeyScope>();
  for (const value of (read.values.scope ?? []) as string[]) {
    if (!(API_KEY_SCOPES as readonly string[]).includes(value)) {
      return `"keys create": unknown scope "${value}" (scopes: ${API_KEY_SCOPES.join(', ')}).`;
    }
    scopes.add(value as ApiKeyScope);
  }
  if (name === undefined) return '"keys create" needs --name NAME (who or what uses the key).';
  if (scopes.size === 0) {
    return `"keys create" needs at least one --scope (${API_KEY_SCOPES.join(', ')}).`;
  }
  return { action, name, scopes: API_KEY_SCOPES.filter((scope) => scopes.has(scope)), limits };
}

const when = (date: Date | null) => (date ? date.toISOString() : '-');

/** Runs a parsed `keys` command against an open, migrated database. */
export async function runKeysCommand(
  db: Database,
  command: KeysCommand,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  if (command.action === 'create') {
    const generated = generateKey();
    const id = await insertApiKey(db, {
      name: command.name,
      prefix: generated.prefix,
      keyHash: generated.keyHash,
      scopes: command.scopes,
      ...command.limits,
    });
    out(
      `Created API key ${id} "${command.name}" (scopes: ${command.scopes.join(', ')}) with ${describeLimits(command.limits)}. ` +
        'Store it now: it is not shown again. Send it as "Authorization: Bearer <key>".',
    );
    out(generated.key);
    return 0;
  }
  if (command.action === 'list') {
    const keys = await listApiKeys(db);
    const limit = (value: number | null) => (value === null ? 'default' : String(value));
    printTable(out, [
      [
        'ID',
        'NAME',
        'PREFIX',
        'SCOPES',
        'CREATED',
        'LAST USED',
        'REVOKED',
        'RATE/MIN',
        'COST/MIN',
        'SUBS',
        'PERSISTED ONLY',
      ],
      ...keys.map((key) => [
        String(key.id),
        key.name,
        key.prefix,
        key.scopes.join(','),
        when(key.createdAt),
        when(key.lastUsedAt),
        when(key.revokedAt),
        limit(key.rateLimit),
        limit(key.costLimit),
        limit(key.maxSubscriptions),
        key.persistedOnly ? 'yes' : 'no',
      ]),
    ]);
    return 0;
  }
  if (command.action === 'update') {
    if (!(await updateApiKeyLimits(db, command.id, command.limits))) {
      err(`chipgate: no API key with id ${command.id} (see "keys list").`);
      return 1;
    }
    out(`Updated API key ${command.id}: ${describeLimits(command.limits, true)}.`);
    return 0;
  }
  if (command.action === 'usage') {
    const keys = await listApiKeys(db);
    if (!keys.some((key) => key.id === command.id)) {
      err(`chipgate: no API key with id ${command.id} (see "keys list").`);
      return 1;
    }
    const since = new Date(Date.now() - (command.days - 1) * 86_400_000).toISOString().slice(0, 10);
    const rows = await usageOfKey(db, command.id, since);
    printTable(out, [
      ['DAY', 'REQUESTS', 'COST', 'ERRORS'],
      ...rows.map((row) => [row.day, String(row.requests), String(row.cost), String(row.errors)]),
    ]);
    if (rows.length === 0) out(`(no usage recorded since ${since})`);
    return 0;
  }
  const outcome = await revokeApiKey(db, command.id);
  if (outcome === 'missing') {
    err(`chipgate: no API key with id ${command.id} (see "keys list").`);
    return 1;
  }
  out(
    outcome === 'revoked'
      ? `Revoked API key ${command.id}.`
      : `API key ${command.id} was already revoked.`,
  );
  return 0;
}

/**
 * "rate limit 600/min, cost limit default, ..." for the limits a command sets; `onlyGiven`
 * leaves out the ones it does not change (`keys update`).
 */
function describeLimits(limits: Partial<ApiKeyLimitSettings>, onlyGiven = false): string {
  const parts: string[] = [];
  const add = (label: string, value: number | null | undefined, unit = '') => {
    if (value === undefined && onlyGiven) return;
    parts.push(`${label} ${value === undefined || value === null ? 'default' : `${value}${unit}`}`);
  };
  add('rate limit', limits.rateLimit, '/min');
  add('cost limit', limits.costLimit, '/min');
  add('max subscriptions', limits.maxSubscriptions);
  if (limits.persistedOnly !== undefined || !onlyGiven) {
    parts.push(limits.persistedOnly ? 'persisted-only' : 'any operation');
  }
  return parts.join(', ');
}
