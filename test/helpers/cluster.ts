/**
 * A PostgreSQL 15 cluster of a test's own (initdb/pg_ctl as the `postgres` user, a temporary
 * directory, a spare port on 127.0.0.1), for tests that stop and start the server. The shared
 * server on 5432 is never touched.
 */
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openDatabase } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import type { ApiKeyScope } from '../../src/db/schema.js';
import { seed } from '../../src/db/seed.js';
import { createKey, type TestKey } from './keys.js';
import { freePort } from './server.js';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

/** A private cluster. */
export interface PrivateCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  /** Starts the server and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops the server (`-m fast`: sessions are terminated, as in a restart or failover). */
  stop(): Promise<void>;
  /** Stops it if running and removes its directory. */
  destroy(): Promise<void>;
}

async function asPostgres(command: string, args: string[]): Promise<void> {
  await run('runuser', ['-u', 'postgres', '--', path.join(BIN, command), ...args], {
    timeout: 120_000,
  });
}

/** Creates a cluster (trust authentication, no fsync) and starts it. */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'chipgate-cluster-'));
  const { uid, gid } = await run('id', ['-u', 'postgres']).then(async ({ stdout }) => ({
    uid: Number(stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  }));
  chownSync(dir, uid, gid);
  const data = path.join(dir, 'data');
  await asPostgres('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '-A',
    'trust',
    '--no-sync',
    '-E',
    'UTF8',
  ]);
  return startedCluster(dir, data);
}

/**
 * Migrates and seeds the cluster's `postgres` database, as a gateway does a new one, and stores
 * an API key with `scopes` for the test to send.
 */
export async function seedCluster(
  cluster: PrivateCluster,
  scopes: ApiKeyScope[],
): Promise<TestKey> {
  const handle = await openDatabase({ databaseUrl: cluster.url, poolMax: 2 });
  try {
    await runMigrations(handle);
    await seed(handle.db);
    return await createKey(handle.db, scopes);
  } finally {
    await handle.close();
  }
}

/**
 * A streaming replica of `primary` (a private cluster: `wal_level = replica`, PostgreSQL 15's
 * default, and initdb's trust rule for replication from 127.0.0.1), made with
 * `pg_basebackup -R` into its own directory and started on another spare port as a hot standby.
 */
export async function startStreamingReplica(primary: PrivateCluster): Promise<PrivateCluster> {
  const source = new URL(primary.url);
  const dir = mkdtempSync(path.join(tmpdir(), 'chipgate-replica-'));
  const { stdout: uid } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  chownSync(dir, Number(uid.trim()), Number(gid.trim()));
  const data = path.join(dir, 'data');
  await asPostgres('pg_basebackup', [
    '-h',
    source.hostname,
    '-p',
    source.port,
    '-U',
    'postgres',
    '-D',
    data,
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
    '--no-sync',
  ]);
  return startedCluster(dir, data, '-c hot_standby=on');
}

/**
 * Starts the server of `data` (inside `dir`, which it removes on `destroy`) on a spare port of
 * 127.0.0.1, its socket in `dir`, fsync off, with `options` added to its command line.
 */
async function startedCluster(dir: string, data: string, options = ''): Promise<PrivateCluster> {
  const port = await freePort();
  const cluster: PrivateCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await asPostgres('pg_ctl', [
        'start',
        '-D',
        data,
        '-w',
        '-t',
        '60',
        '-l',
        path.join(dir, 'server.log'),
        '-o',
        `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off ${options}`.trimEnd(),
      ]);
    },
    async stop() {
      await asPostgres('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w', '-t', '60']);
    },
    async destroy() {
      await cluster.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}
