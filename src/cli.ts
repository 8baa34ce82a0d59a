/**
 * Command line: `npm run chipgate -- <command>` (also `npm run db:migrate`, `npm run db:seed`).
 *
 *   migrate   apply the migrations in drizzle/ to the configured database
 *   seed      migrate, then load the seed dataset (idempotent: only missing rows are added)
 *
 * The database is the one the gateway uses: DATABASE_URL, else the embedded PGlite directory
 * (which a running gateway holds; the command then refuses and says so).
 * Exit codes: 0 done, 1 failed, 2 bad usage or configuration.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from './db/client.js';
import { DirectoryLockedError } from './db/lock.js';
import { runMigrations } from './db/migrate.js';
import { seed } from './db/seed.js';
import { ConfigError, loadEnv } from './env.js';

const USAGE = `Usage: npm run chipgate -- <command>

Commands:
  migrate   Apply the database migrations (drizzle/) to the configured database.
  seed      Migrate, then load the seed dataset; only rows that are missing are added.
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
  if (command !== 'migrate' && command !== 'seed') {
    err(`chipgate: unknown command "${command}".\n\n${USAGE}`);
    return 2;
  }
  if (rest.length > 0) {
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
    if (command === 'migrate') {
      out(`Migrations applied to ${handle.description}.`);
      return 0;
    }
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

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = await runCli(process.argv.slice(2));
}
