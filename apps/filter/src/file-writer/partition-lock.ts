import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';

/** The lock's file inside a partition's directory. */
export const PARTITION_LOCK_FILE = '.owner.lock';
/** How often a writer waiting for a partition tries its lock again. */
const RETRY_MS = 200;

/**
 * Exclusive ownership of one file-sink partition's directory among processes, by an operating-system
 * lock: an SQLite database held in an exclusive transaction (SQLite takes POSIX `fcntl` locks on it,
 * through Node's built-in `node:sqlite`). The lock goes with the process, so a crashed owner never
 * leaves it behind; an owner that is alive but no longer the partition's active consumer (its broker
 * connection lost, not yet noticed) keeps it until it notices, and the next owner waits until then.
 * So no two processes ever append to a partition's files at once, and the next owner reads the
 * files' state only after the last one has stopped writing.
 *
 * Needs a file system whose `fcntl` locks hold between the processes that share it: a local disk,
 * or NFSv4 and the like for a volume shared between machines (see docs/scale-out.md).
 */
export class PartitionLock {
  private db: DatabaseSync | undefined;

  private constructor(db: DatabaseSync) {
    this.db = db;
  }

  /** Takes the lock of `dir`, waiting while another process holds it; rejects once `signal` fires. */
  static async acquire(dir: string, signal: AbortSignal | undefined, waiting: () => void): Promise<PartitionLock> {
    let announced = false;
    for (;;) {
      if (signal?.aborted) throw signal.reason as Error;
      const db = new DatabaseSync(join(dir, PARTITION_LOCK_FILE), { timeout: 0 });
      try {
        db.exec('BEGIN EXCLUSIVE');
        return new PartitionLock(db);
      } catch (error) {
        db.close();
        if (!isBusy(error)) throw error;
      }
      if (!announced) {
        announced = true;
        waiting();
      }
      await new Promise<void>((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }

  release(): void {
    const db = this.db;
    this.db = undefined;
    if (!db) return;
    try {
      if (db.isTransaction) db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  }
}

/** SQLITE_BUSY (5) and its extended codes: another connection holds the lock. */
function isBusy(error: unknown): boolean {
  const { errcode } = error as { errcode?: unknown };
  return typeof errcode === 'number' && (errcode & 0xff) === 5;
}
