/**
 * One process at a time on an embedded PGlite directory. PGlite has no postmaster to arbitrate
 * between processes; two writers would corrupt the directory. The holder writes its pid to
 * `<dir>.lock`; a lock whose pid no longer runs is stale and taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/** A held lock; `release()` is idempotent. */
export interface DirectoryLock {
  path: string;
  release(): void;
}

/** Thrown when another live process holds the directory. */
export class DirectoryLockedError extends Error {
  readonly holderPid: number;
  readonly directory: string;
  constructor(directory: string, holderPid: number) {
    super(
      `The embedded database at ${directory} is in use by process ${holderPid} (a running ` +
        'chipgate gateway?). Stop that process first, or set DATABASE_URL to use a PostgreSQL ' +
        'server, which any number of processes can share.',
    );
    this.name = 'DirectoryLockedError';
    this.holderPid = holderPid;
    this.directory = directory;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<directory>.lock` for this process or throws `DirectoryLockedError`. */
export function acquireDirectoryLock(directory: string): DirectoryLock {
  const lockPath = `${directory}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // 'wx' creates atomically and fails if the file exists, so two starters cannot both win.
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(lockPath, 'utf8').trim() === String(process.pid)) unlinkSync(lockPath);
        } catch {
          // Already gone: nothing to release.
        }
      };
      process.once('exit', release);
      return { path: lockPath, release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder = Number.NaN;
      try {
        holder = Number.parseInt(readFileSync(lockPath, 'utf8').trim(), 10);
      } catch {
        // Vanished between open and read: try again.
        continue;
      }
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)) {
        throw new DirectoryLockedError(directory, holder);
      }
      // Stale (holder gone, unreadable, or ourselves after a crash-restart with the same pid).
      try {
        unlinkSync(lockPath);
      } catch {
        // Someone else removed it first; the next attempt sorts it out.
      }
    }
  }
  throw new Error(`Could not take the lock ${lockPath}; remove it if no chipgate process runs.`);
}
