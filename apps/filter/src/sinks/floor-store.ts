import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { join } from 'node:path';

/** The store's file inside the file sink's directory (SQLite, with its `-wal` and `-shm` files). */
export const FLOORS_FILE = '.floors.sqlite';

/** Floors written per transaction: each commit is one fsync and holds the event loop a few ms. */
const ROWS_PER_COMMIT = 2_000;

/**
 * The floors of sources whose state left memory (see SourceEviction): durable, on disk, in an
 * SQLite table keyed by source (Node's built-in `node:sqlite`). Saving costs a keyed upsert per
 * source and one fsync per {@link ROWS_PER_COMMIT} (write-ahead log, `synchronous=FULL`), and
 * looking a source up costs one B-tree lookup, whatever the number of sources ever evicted: so the
 * filter's memory and its checkpoint are bounded by the sources in memory, and a source that comes
 * back after any time still finds its floor (its resends are still recognised as duplicates).
 *
 * The calls are synchronous (node:sqlite has no asynchronous API); each is microseconds, and a save
 * yields to the event loop between its commits. Any failure (the disk, a file that is not the
 * store) throws: a source is forgotten only once its floor is committed, and a lookup that fails
 * fails the hand-off that needed it rather than give the source floor 0.
 */
export class FloorStore {
  private db: DatabaseSync | undefined;
  private upsert: StatementSync | undefined;
  private select: StatementSync | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly sinkDir: string) {}

  get path(): string {
    return join(this.sinkDir, FLOORS_FILE);
  }

  /** Opens (or creates) the store; returns how many sources it holds. */
  open(): number {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(this.path);
      db.exec(`
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = FULL;
        CREATE TABLE IF NOT EXISTS floors (source TEXT PRIMARY KEY, floor INTEGER NOT NULL) WITHOUT ROWID;
      `);
      this.upsert = db.prepare(
        'INSERT INTO floors (source, floor) VALUES (?, ?) ON CONFLICT (source) DO UPDATE SET floor = max(floor, excluded.floor)',
      );
      this.select = db.prepare('SELECT floor FROM floors WHERE source = ?');
      const { count } = db.prepare('SELECT count(*) AS count FROM floors').get() as { count: number };
      this.db = db;
      return count;
    } catch (error) {
      db?.close();
      throw new Error(`the floor store ${this.path} cannot be used: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The floor the source left memory with; undefined if it never did. */
  floor(source: string): number | undefined {
    const row = this.statement(this.select).get(source) as { floor: number } | undefined;
    return row?.floor;
  }

  /**
   * Makes these floors durable; a floor never moves back. Rejects if a commit fails: the floors
   * committed before it stay, and no source may be forgotten on the strength of this call.
   */
  save(floors: ReadonlyMap<string, number>): Promise<void> {
    // Serialised: one transaction at a time on the one connection. A failed save fails its caller
    // only; the next one starts afresh.
    const saved = this.writing.then(() => this.commitAll([...floors]));
    this.writing = saved.catch(() => undefined);
    return saved;
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }

  private async commitAll(entries: ReadonlyArray<readonly [string, number]>): Promise<void> {
    const db = this.database();
    const upsert = this.statement(this.upsert);
    for (let from = 0; from < entries.length; from += ROWS_PER_COMMIT) {
      if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const [source, floor] of entries.slice(from, from + ROWS_PER_COMMIT)) upsert.run(source, floor);
        db.exec('COMMIT');
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw error;
      }
    }
  }

  private database(): DatabaseSync {
    if (!this.db) throw new Error(`the floor store ${this.path} is not open`);
    return this.db;
  }

  private statement(statement: StatementSync | undefined): StatementSync {
    this.database();
    return statement as StatementSync;
  }
}
