/**
 * Command line: `npm run chipgate -- <command>` (also `npm run db:migrate`, `npm run db:seed`).
 *
 *   migrate   apply the migrations in drizzle/ to the configured database
 *   seed      migrate, then load the seed dataset (idempotent: only missing rows are added)
 *   keys create --name N --scope write [--scope read] [limits]   create an API key; the key is
 *             printed once, alone on the last line of stdout
 *   keys update <id> [limits]   change a key's limits
 *   keys usage <id> [--days N]  requests, cost and errors per day
 *   keys list             list keys (id, name, prefix, scopes, dates, limits; never the key or its hash)
 *   documents add|list|remove   trusted documents (see cli-documents.ts)
 *   keys revoke <id>      revoke a key (it stops authenticating at once)
 *   sync federal-register [--since YYYY-MM-DD] [--page-size N]
 *             migrate, then upsert BIS documents of the Federal Register as policy decisions
 *
 * The database is the one the gateway uses: DATABASE_URL, else the embedded PGlite directory
 * (which a running gateway holds; the command then refuses and says so).
 * Exit codes: 0 done, 1 failed, 2 bad usage or configuration.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { API_KEY_SCOPES, generateKey } from './auth.js';
import { parseId, printTable } from './cli-common.js';
import {
  DOCUMENTS_USAGE,
  type DocumentsCommand,
  parseDocumentsCommand,
  runDocumentsCommand,
} from './cli-documents.js';
import {
  type ApiKeyLimitSettings,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  updateApiKeyLimits,
} from './db/api-keys.js';
import { type Database, openDatabase } from './db/client.js';
import { DirectoryLockedError } from './db/lock.js';
import { runMigrations } from './db/migrate.js';
import type { ApiKeyScope } from './db/schema.js';
import { seed } from './db/seed.js';
import { usageOfKey } from './db/usage.js';
import { ConfigError, loadEnv, sourcesConfigOf } from './env.js';
import { FEDERAL_REGISTER_POLICY, FederalRegisterClient } from './sources/federal-register.js';
import { Source } from './sources/http.js';
import { CHIPGATE_USER_AGENT } from './sources/index.js';
import { isCalendarDate, type SyncResult, syncFederalRegister } from './sync/federal-register.js';

const USAGE = `Usage: npm run chipgate -- <command>

Commands:
  migrate   Apply the database migrations (drizzle/) to the configured database.
  seed      Migrate, then load the seed dataset; only rows that are missing are added.
  keys create --name NAME --scope write [--scope read] [LIMITS]
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
            Revoke the key with this id; requests with it get UNAUTHENTICATED.
${DOCUMENTS_USAGE}
  sync federal-register [--since YYYY-MM-DD] [--page-size N]
            Migrate, then page through the Federal Register's BIS documents published
            since the date (default 2022-10-01) and upsert each as a policy decision
            (slug fr-<document number>). Curated rows are never overwritten. Safe to
            re-run and to interrupt (Ctrl-C stops after the current document).
  help      Show this text.

The database is DATABASE_URL when set, else the embedded PGlite directory
CHIPGATE_PGLITE_DIR (default ./.chipgate/pgdata).`;

/** Runs one command; returns the process exit code. Output goes to the given streams. */
export async function runCli(
  argv: string[],
  source: Record<string, string | undefined> = process.env,
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE);
    return command ? 0 : 2;
  }
  if (!['migrate', 'seed', 'keys', 'sync', 'documents'].includes(command)) {
    err(`chipgate: unknown command "${command}".\n\n${USAGE}`);
    return 2;
  }
  let keysCommand: KeysCommand | undefined;
  let syncOptions: SyncArguments | undefined;
  let documentsCommand: DocumentsCommand | undefined;
  if (command === 'keys' || command === 'sync' || command === 'documents') {
    const parsed =
      command === 'keys'
        ? parseKeysCommand(rest)
        : command === 'sync'
          ? parseSyncArguments(rest)
          : parseDocumentsCommand(rest);
    if (typeof parsed === 'string') {
      err(`chipgate: ${parsed}\n\n${USAGE}`);
      return 2;
    }
    if (command === 'keys') keysCommand = parsed as KeysCommand;
    else if (command === 'sync') syncOptions = parsed as SyncArguments;
    else documentsCommand = parsed as DocumentsCommand;
  } else if (rest.length > 0) {
    err(`chipgate: "${command}" takes no arguments (got ${rest.join(' ')}).`);
    return 2;
  }
  let env: ReturnType<typeof loadEnv>;
  try {
    env = loadEnv(source);
  } catch (error) {
    if (error instanceof ConfigError) {
      err(`chipgate: ${error.message}`);
      return 2;
    }
    throw error;
  }
  let handle: Awaited<ReturnType<typeof openDatabase>>;
  try {
    handle = await openDatabase({
      databaseUrl: env.DATABASE_URL,
      pgliteDir: env.CHIPGATE_PGLITE_DIR,
      pgliteSharedBuffers: env.CHIPGATE_PGLITE_SHARED_BUFFERS,
      poolMax: 2,
    });
  } catch (error) {
    if (error instanceof DirectoryLockedError) {
      err(`chipgate: ${error.message}`);
      return 1;
    }
    err(`chipgate: cannot open the database: ${(error as Error).message}`);
    return 1;
  }
  try {
    await runMigrations(handle);
    if (keysCommand) return await runKeysCommand(handle.db, keysCommand, out, err);
    if (documentsCommand) return await runDocumentsCommand(handle.db, documentsCommand, out, err);
    if (command === 'migrate') {
      out(`Migrations applied to ${handle.description}.`);
      return 0;
    }
    if (syncOptions) return await runSync(handle, env, syncOptions, out, err);
    const result = await seed(handle.db);
    const added = Object.entries(result)
      .map(([table, count]) => `${table} +${count}`)
      .join(', ');
    out(`Seeded ${handle.description}: ${added}.`);
    return 0;
  } catch (error) {
    err(`chipgate: ${command} failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await handle.close();
  }
}

/** A parsed `keys` subcommand. */
export type KeysCommand =
  | { action: 'create'; name: string; scopes: ApiKeyScope[]; limits: Partial<ApiKeyLimitSettings> }
  | { action: 'update'; id: number; limits: Partial<ApiKeyLimitSettings> }
  | { action: 'usage'; id: number; days: number }
  | { action: 'list' }
  | { action: 'revoke'; id: number };

const LIMIT_FLAGS = {
  '--rate-limit': { column: 'rateLimit', what: 'requests per minute', min: 1 },
  '--cost-limit': { column: 'costLimit', what: 'query cost per minute', min: 1 },
  '--max-subscriptions': { column: 'maxSubscriptions', what: 'open subscriptions', min: 0 },
} as const;
const LIMIT_USAGE =
  '--rate-limit N, --cost-limit N, --max-subscriptions N (or "default"), --persisted-only, --no-persisted-only';

/**
 * Reads a limit flag at `args[i]` into `limits` (`default` clears it: `update` only).
 * Returns how many arguments it used (0: not a limit flag), or an error message.
 */
function parseLimitFlag(
  command: string,
  args: string[],
  i: number,
  limits: Partial<ApiKeyLimitSettings>,
): number | string {
  const flag = args[i] ?? '';
  if (flag === '--persisted-only' || flag === '--no-persisted-only') {
    limits.persistedOnly = flag === '--persisted-only';
    return 1;
  }
  if (!(flag in LIMIT_FLAGS)) return 0;
  const { column, what, min } = LIMIT_FLAGS[flag as keyof typeof LIMIT_FLAGS];
  const value = args[i + 1];
  if (value === 'default' && command === 'update') {
    limits[column] = null;
    return 2;
  }
  if (!value || !/^\d{1,10}$/.test(value) || Number(value) < min || Number(value) > 2_147_483_647) {
    return `"keys ${command}": ${flag} takes ${what}, a whole number from ${min}${command === 'update' ? ' (or "default")' : ''}.`;
  }
  limits[column] = Number(value);
  return 2;
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
    const limits: Partial<ApiKeyLimitSettings> = {};
    for (let i = 0; i < flags.length; ) {
      const used = parseLimitFlag('update', flags, i, limits);
      if (typeof used === 'string') return used;
      if (used === 0)
        return `"keys update" takes ${LIMIT_USAGE} (got ${flags.slice(i).join(' ')}).`;
      i += used;
    }
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
  let name: string | undefined;
  const scopes = new Set<ApiKeyScope>();
  const limits: Partial<ApiKeyLimitSettings> = {};
  for (let i = 0; i < rest.length; ) {
    const used = parseLimitFlag('create', rest, i, limits);
    if (typeof used === 'string') return used;
    if (used > 0) {
      i += used;
      continue;
    }
    const flag = rest[i];
    const value = rest[i + 1];
    if ((flag !== '--name' && flag !== '--scope') || value === undefined) {
      return `"keys create" takes --name NAME and --scope SCOPE, and optionally ${LIMIT_USAGE} (got ${rest.slice(i).join(' ')}).`;
    }
    i += 2;
    if (flag === '--name') {
      if (name !== undefined) return '"keys create": give --name once.';
      if (value.trim() === '' || value.length > 200) {
        return '"keys create": --name must be 1 to 200 characters.';
      }
      name = value.trim();
    } else if ((API_KEY_SCOPES as readonly string[]).includes(value)) {
      scopes.add(value as ApiKeyScope);
    } else {
      return `"keys create": unknown scope "${value}" (scopes: ${API_KEY_SCOPES.join(', ')}).`;
    }
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

/** Arguments of `sync`. */
interface SyncArguments {
  since: string;
  pageSize: number;
}

/** Parses `federal-register [--since YYYY-MM-DD] [--page-size N]`; a string is a usage error. */
function parseSyncArguments(args: string[]): SyncArguments | string {
  const [what, ...flags] = args;
  if (what !== 'federal-register') {
    return `sync: unknown source "${what ?? ''}" (the one source is federal-register).`;
  }
  const options: SyncArguments = { since: '2022-10-01', pageSize: 100 };
  for (let i = 0; i < flags.length; i += 2) {
    const [flag, value] = [flags[i], flags[i + 1]];
    if (flag === '--since' && value && isCalendarDate(value)) {
      options.since = value;
    } else if (
      flag === '--page-size' &&
      value &&
      /^\d+$/.test(value) &&
      Number(value) >= 1 &&
      Number(value) <= 1000
    ) {
      options.pageSize = Number(value);
    } else {
      return `sync: bad option "${[flag, value].filter(Boolean).join(' ')}" (expected --since YYYY-MM-DD, --page-size 1-1000).`;
    }
  }
  return options;
}

/** `sync federal-register`: progress bar on a terminal, summary at the end, Ctrl-C stops. */
async function runSync(
  handle: Awaited<ReturnType<typeof openDatabase>>,
  env: ReturnType<typeof loadEnv>,
  options: SyncArguments,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const settings = sourcesConfigOf(env).federalRegister;
  // A page of 100 documents takes longer than a GraphQL field may; give each call 30 s at least.
  const source = new Source(
    'federal-register',
    { ...settings, timeoutMs: Math.max(settings.timeoutMs, 30_000) },
    { ...FEDERAL_REGISTER_POLICY, userAgent: CHIPGATE_USER_AGENT },
  );
  const client = new FederalRegisterClient(source, settings.baseUrl);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { stream: process.stderr, format: 'Federal Register [{bar}] {value}/{total} documents' },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let result: SyncResult;
  try {
    result = await syncFederalRegister(handle.db, client, {
      ...options,
      signal: controller.signal,
      onProgress: (done, total) => {
        if (!bar) return;
        if (done === 1) bar.start(total, 0);
        bar.setTotal(total);
        bar.update(done);
      },
    });
  } finally {
    bar?.stop();
    process.off('SIGINT', stop);
    await source.close();
  }
  const { created, linked, updated, unchanged, failed } = result.counts;
  const summary = `${created} created, ${linked} linked, ${updated} updated, ${unchanged} unchanged, ${failed} failed`;
  if (result.interrupted) {
    err(`chipgate: sync interrupted; so far: ${summary}. Run it again to finish.`);
    return 130;
  }
  if (result.error) {
    err(
      `chipgate: sync stopped: ${result.error.message} So far: ${summary}. Run it again to finish.`,
    );
    return 1;
  }
  out(
    `Synced ${result.total} Federal Register documents (BIS, since ${options.since}) into ${handle.description}: ${summary}.`,
  );
  return failed > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = await runCli(process.argv.slice(2));
}
