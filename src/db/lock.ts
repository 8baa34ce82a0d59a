/**
 * One process at a time on an embedded PGlite directory. PGlite has no postmaster to arbitrate
 * between processes; two writers would corrupt the directory.
 *
 * The lock is proper-lockfile's: an atomically created directory `<dir>.lock` whose mtime the
 * holder refreshes (a heartbeat); a lock not refreshed for `staleMs` is stale and taken over.
 * A pid alone cannot tell holders apart: two containers sharing a volume are both pid 1, and a
 * restarted process may reuse a dead one's pid. The holder also writes `<dir>.lock.owner`
 * (`{ pid, host }`) for the error message, and so that a holder on this host whose pid is gone
 * is recognised at once instead of after `staleMs`.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import lockfile from 'proper-lockfile';

/** A held lock; `release()` is idempotent. */
export interface DirectoryLock {
  path: string;
  release(): Promise<void>;
}

/** Who holds a lock, as its `owner` file says. */
export interface LockOwner {
  pid: number;
  host: string;
}

/** Thrown when another live process holds the directory. */
export class DirectoryLockedError extends Error {
  readonly holder: LockOwner | undefined;
  readonly directory: string;
  constructor(directory: string, holder: LockOwner | undefined) {
    const who = holder
      ? `process ${holder.pid}${holder.host === hostname() ? '' : ` on host ${holder.host}`}`
      : 'another process';
    super(
      `The embedded database at ${directory} is in use by ${who} (a running chipgate ` +
        'gateway?). Stop that process first, or set DATABASE_URL to use a PostgreSQL ' +
        'server, which any number of processes can share.',
    );
    this.name = 'DirectoryLockedError';
    this.holder = holder;
    this.directory = directory;
  }
}

/** Settings of the heartbeat (defaults: refreshed every 5 s, stale after 20 s). */
export interface LockOptions {
  /** A lock whose heartbeat is older than this is stale and taken over (at least 2000 ms). */
  staleMs?: number;
  /** How often the holder refreshes the heartbeat (at most half of `staleMs`). */
  updateMs?: number;
  /**
   * Called when this process lost its lock (the heartbeat could not be written in time, or
   * another process took it over); the default throws, which ends the process rather than let
   * two writers share the directory.
   */
  onCompromised?: (error: Error) => void;
}

/** Whether process `pid` exists on this host (signal 0; someone else's process counts). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(ownerPath: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(ownerPath, 'utf8')) as LockOwner;
    return Number.isInteger(owner.pid) && typeof owner.host === 'string' ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** Takes `<directory>.lock` for this process or throws `DirectoryLockedError`. */
export async function acquireDirectoryLock(
  directory: string,
  options: LockOptions = {},
): Promise<DirectoryLock> {
  const lockPath = `${directory}.lock`;
  const ownerPath = `${lockPath}.owner`;
  const stale = options.staleMs ?? 20_000;
  const settings = {
    lockfilePath: lockPath,
    realpath: false,
    stale,
    update: Math.min(options.updateMs ?? 5_000, stale / 2),
    retries: 0,
    ...(options.onCompromised ? { onCompromised: options.onCompromised } : {}),
  };
  for (let attempt = 0; ; attempt++) {
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(directory, settings);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      const owner = readOwner(ownerPath);
      // A holder on this host whose process is gone left the lock behind (a crash, kill -9):
      // take it now rather than after the heartbeat goes stale.
      const gone =
        owner && owner.host === hostname() && owner.pid !== process.pid && !isRunning(owner.pid);
      if (!gone || attempt > 0) throw new DirectoryLockedError(directory, owner);
      rmSync(lockPath, { recursive: true, force: true });
      continue;
    }
    writeFileSync(
      ownerPath,
      JSON.stringify({ pid: process.pid, host: hostname() } satisfies LockOwner),
    );
    let released: Promise<void> | undefined;
    return {
      path: lockPath,
      release() {
        released ??= (async () => {
          if (readOwner(ownerPath)?.pid === process.pid) rmSync(ownerPath, { force: true });
          await release().catch(() => {
            // Already gone (or taken over): nothing to release.
          });
        })();
        return released;
      },
    };
  }
}
