import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Another process (or this one) has the embedded data directory open. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      pid === process.pid
        ? `DATA_DIR ${dataDir} is already open in this process`
        : `DATA_DIR ${dataDir} is in use by another process (pid ${pid}): stop it, or give this one a DATA_DIR of its own (or a DATABASE_URL)`,
    );
    this.name = 'DataDirInUseError';
  }
}

const LOCK_FILE = 'chat-service.lock';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One process per embedded data directory: PGlite has no lock of its own, and a second
 * process on the same files dies with a bare `Aborted()` (or, worse, writes beside the
 * first). The lock is a file holding the owner's pid, made with O_EXCL; a lock whose
 * pid is gone (a process killed with -9) is taken over.
 */
export class DataDirLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): DataDirLock {
    const file = path.join(dataDir, LOCK_FILE);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const fd = openSync(file, 'wx');
        try {
          writeSync(fd, `${process.pid}\n`);
        } finally {
          closeSync(fd);
        }
        return new DataDirLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(file, 'utf8').trim());
      } catch {
        // Gone meanwhile: try again.
        continue;
      }
      if (Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) throw new DataDirInUseError(dataDir, owner);
      // Stale (its owner is gone) or unreadable: take it over.
      try {
        unlinkSync(file);
      } catch {
        // Another process took it over first; the next attempt sees its pid.
      }
    }
    throw new Error(`DATA_DIR ${dataDir}: could not take its lock file ${file}`);
  }

  /** Removes the lock file, if it is still this process's. */
  release(): void {
    try {
      if (Number(readFileSync(this.file, 'utf8').trim()) === process.pid) unlinkSync(this.file);
    } catch {
      // Already gone.
    }
  }
}
