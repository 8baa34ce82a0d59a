/**
 * A PgBouncer of a test's own (Debian's `/usr/sbin/pgbouncer`, run as the `postgres` user: it
 * refuses to run as root) on a spare port of 127.0.0.1, in front of a PostgreSQL server, with
 * its own configuration in a temporary directory: transaction pooling, trust authentication
 * (the user still has to be listed in its auth file), no startup parameter ignored.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where Debian installs it (`apt-get install pgbouncer`). */
export const PGBOUNCER_BIN = '/usr/sbin/pgbouncer';

/** A running PgBouncer. */
export interface TestPgBouncer {
  /** Its port on 127.0.0.1. */
  port: number;
  /** `url` (a postgres:// URL of the server behind) with host and port replaced by PgBouncer's. */
  urlFor(url: string): string;
  /** Its log so far. */
  log(): string;
  /** PgBouncer's own process id (its pid file; the child is `runuser`). */
  pid(): number;
  /** Stops it (SIGINT: immediate shutdown) and removes its directory. */
  stop(): Promise<void>;
}

/** A port that was free on 127.0.0.1 a moment ago (no vitest import: benchmarks use this file). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function accepting(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

/**
 * Starts PgBouncer in front of the server at `serverPort` (every database of it, as the user
 * `postgres`), with `settings` added to its `[pgbouncer]` section (e.g. `pool_mode`).
 */
export async function startPgBouncer(
  serverPort: number,
  settings: Record<string, string | number> = {},
): Promise<TestPgBouncer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'chipgate-pgbouncer-'));
  const [uid, gid] = await Promise.all(
    ['-u', '-g'].map(async (flag) => Number((await run('id', [flag, 'postgres'])).stdout.trim())),
  );
  const port = await freePort();
  const config = {
    listen_addr: '127.0.0.1',
    listen_port: port,
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: path.join(dir, 'users.txt'),
    pool_mode: 'transaction',
    default_pool_size: 10,
    max_client_conn: 500,
    logfile: path.join(dir, 'pgbouncer.log'),
    pidfile: path.join(dir, 'pgbouncer.pid'),
    ...settings,
  };
  writeFileSync(path.join(dir, 'users.txt'), '"postgres" ""\n');
  writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=127.0.0.1 port=${serverPort} user=postgres`,
      '[pgbouncer]',
      ...Object.entries(config).map(([key, value]) => `${key} = ${value}`),
      '',
    ].join('\n'),
  );
  chownSync(dir, uid ?? 0, gid ?? 0);
  for (const file of ['users.txt', 'pgbouncer.ini']) {
    chownSync(path.join(dir, file), uid ?? 0, gid ?? 0);
  }
  const child: ChildProcess = spawn(
    'runuser',
    ['-u', 'postgres', '--', PGBOUNCER_BIN, path.join(dir, 'pgbouncer.ini')],
    { stdio: 'ignore' },
  );
  const exited = once(child, 'exit');
  const log = () => {
    try {
      return readFileSync(config.logfile, 'utf8');
    } catch {
      return '';
    }
  };
  const pid = () => Number(readFileSync(config.pidfile, 'utf8').trim());
  const deadline = Date.now() + 30_000;
  while (!(await accepting(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start on port ${port}:\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    urlFor(url) {
      const pooled = new URL(url);
      pooled.hostname = '127.0.0.1';
      pooled.port = String(port);
      return pooled.toString();
    },
    log,
    pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // runuser does not pass signals on: PgBouncer's own pid.
        process.kill(pid(), 'SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
