/**
 * Command line: `npm run chipgate -- <command>` (also `npm run db:migrate`, `npm run db:seed`).
 *
 *   migrate   apply the migrations in drizzle/ to the configured database
 *   seed      migrate, then load the seed dataset (idempotent: only missing rows are added)
 *   template  build the PGlite template (migrated, seeded) new embedded directories copy, if its
 *             key changed; `npm ci` runs it
 *   keys create --name N --scope write [--scope read] [limits]   create an API key; the key is
 *             printed once, alone on the last line of stdout
 *   keys update <id> [limits]   change a key's limits
 *   keys usage <id> [--days N]  requests, cost and errors per day
 *   keys list             list keys (id, name, prefix, scopes, dates, limits; never the key or its hash)
 *   documents add|list|remove   trusted documents (see cli-documents.ts)
 *   keys revoke <id>      revoke a key (it stops authenticating at once)
 *   sync federal-register [--since YYYY-MM-DD] [--page-size N]
 *             migrate, then upsert BIS documents of the Federal Register as policy decisions
 *   sync status   the scheduled sync: schedule, next due, last runs (src/sync/status.ts)
 *
 * The database is the one the gateway uses: DATABASE_URL, else the embedded PGlite directory
 * (which a running gateway holds; the command then refuses and says so).
 * Exit codes: 0 done, 1 failed, 2 bad usage or configuration.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { readFlags } from './cli-common.js';
import {
  DOCUMENTS_USAGE,
  type DocumentsCommand,
  parseDocumentsCommand,
  runDocumentsCommand,
} from './cli-documents.js';
import { KEYS_USAGE, type KeysCommand, parseKeysCommand, runKeysCommand } from './cli-keys.js';
import { openDatabase } from './db/client.js';
import { DirectoryLockedError } from './db/lock.js';
import { runMigrations } from './db/migrate.js';
import { seed } from './db/seed.js';
import { ensureTemplate } from './db/template-build.js';
import { ConfigError, loadEnv, queryLimitsOf } from './env.js';
import { isCalendarDate, type SyncResult, syncFederalRegister } from './sync/federal-register.js';
import { createSyncClient } from './sync/index.js';
import { syncStatus } from './sync/status.js';

const USAGE = `Usage: npm run chipgate -- <command>

Commands:
  migrate   Apply the database migrations (drizzle/) to the configured database.
  seed      Migrate, then load the seed dataset; only rows that are missing are added.
  template  Build the PGlite template that new embedded directories start from (migrated
            and seeded), unless the current one is there (CHIPGATE_PGLITE_TEMPLATE_DIR).
${KEYS_USAGE}
${DOCUMENTS_USAGE}
  sync federal-register [--since YYYY-MM-DD] [--page-size N]
            Migrate, then page through the Federal Register's BIS documents published
            since the date (default 2022-10-01) and upsert each as a policy decision
            (slug fr-<document number>). Curated rows are never overwritten. Safe to
            re-run and to interrupt (Ctrl-C stops after the current document).
  sync status
            The scheduled sync (CHIPGATE_SYNC_FR_CRON): its schedule, when it is next due,
            and its last 10 runs (state, attempts, instance, window, duration, counts).
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
  if (!['migrate', 'seed', 'template', 'keys', 'sync', 'documents'].includes(command)) {
    err(`chipgate: unknown command "${command}".\n\n${USAGE}`);
    return 2;
  }
  let keysCommand: KeysCommand | undefined;
  let syncOptions: SyncArguments | SyncStatusArguments | undefined;
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
    else if (command === 'sync') syncOptions = parsed as SyncArguments | SyncStatusArguments;
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
  if (command === 'template') {
    try {
      const template = await ensureTemplate(env.CHIPGATE_PGLITE_TEMPLATE_DIR);
      out(`PGlite template ${template.built ? 'built' : 'up to date'}: ${template.path}`);
      return 0;
    } catch (error) {
      err(`chipgate: template failed: ${(error as Error).message}`);
      return 1;
    }
  }
  let handle: Awaited<ReturnType<typeof openDatabase>>;
  try {
    handle = await openDatabase({
      databaseUrl: env.DATABASE_URL,
      directUrl: env.CHIPGATE_DATABASE_DIRECT_URL,
      prepare: env.CHIPGATE_DATABASE_PREPARE,
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
    if (documentsCommand) {
      return await runDocumentsCommand(handle.db, documentsCommand, out, err, queryLimitsOf(env));
    }
    if (command === 'migrate') {
      out(`Migrations applied to ${handle.description}.`);
      return 0;
    }
    if (syncOptions && 'status' in syncOptions) {
      out(await syncStatus(handle.db, env, Date.now()));
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

/** `sync status` (no arguments). */
interface SyncStatusArguments {
  status: true;
}

/** Arguments of `sync federal-register`. */
interface SyncArguments {
  since: string;
  pageSize: number;
}

/** Parses `federal-register [--since YYYY-MM-DD] [--page-size N]`; a string is a usage error. */
function parseSyncArguments(args: string[]): SyncArguments | SyncStatusArguments | string {
  const [what, ...rest] = args;
  if (what === 'status') {
    return rest.length > 0
      ? `sync status takes no arguments (got ${rest.join(' ')}).`
      : { status: true };
  }
  if (what !== 'federal-register') {
    return `sync: unknown source "${what ?? ''}" (the one source is federal-register; or sync status).`;
  }
  const options: SyncArguments = { since: '2022-10-01', pageSize: 100 };
  const expected = '(expected --since YYYY-MM-DD, --page-size 1-1000)';
  const flags = readFlags(rest, {
    since: { type: 'string' },
    'page-size': { type: 'string' },
  });
  const [extra] = flags.positionals;
  if (flags.bad || extra !== undefined) {
    return `sync: bad option "${flags.bad?.flag ?? extra}" ${expected}.`;
  }
  const { since, 'page-size': pageSize } = flags.values;
  if (typeof since === 'string') {
    if (!isCalendarDate(since)) return `sync: bad option "--since ${since}" ${expected}.`;
    options.since = since;
  }
  if (typeof pageSize === 'string') {
    if (!/^\d+$/.test(pageSize) || Number(pageSize) < 1 || Number(pageSize) > 1000) {
      return `sync: bad option "--page-size ${pageSize}" ${expected}.`;
    }
    options.pageSize = Number(pageSize);
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
  const { client, source } = createSyncClient(env);
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
