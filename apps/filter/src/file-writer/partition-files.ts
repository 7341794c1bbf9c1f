import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { type DataRecord, hourFileName, isSinkFileName } from '@dataflow/contracts';
import { scanAndRepair, scanFile } from '../sinks/file-sink.recovery';
import { SinkFiles } from '../sinks/sink-files';
import { PartitionLock } from './partition-lock';

/** The partition's own state beside its files: each source's highest seq in them, each file's committed size. */
export const PARTITION_STATE_FILE = '.partition.sqlite';
/** Floors kept in memory per partition at most; beyond, the cache starts again from the database. */
const MAX_CACHED_FLOORS = 100_000;

/** What an append did: records written, and records the files already held. */
export interface AppendOutcome {
  readonly stored: number;
  readonly duplicates: number;
}

/** What a new owner found when it took the partition over. */
export interface TakeOver {
  readonly scannedBytes: number;
  readonly repairedFiles: readonly string[];
  readonly unreadableLines: number;
}

/** The state of a partition, valid while its lock is held: read afresh by every new owner. */
class Ownership {
  readonly files: SinkFiles;
  private readonly floors = new Map<string, number>();
  private readonly selectFloor: StatementSync;
  private readonly upsertFloor: StatementSync;
  private readonly upsertSize: StatementSync;

  constructor(
    readonly lock: PartitionLock,
    readonly db: DatabaseSync,
    readonly signal: AbortSignal | undefined,
    dir: string,
    fsync: boolean,
  ) {
    this.files = new SinkFiles(dir, fsync);
    this.selectFloor = db.prepare('SELECT seq FROM floors WHERE source = ?');
    this.upsertFloor = db.prepare(
      'INSERT INTO floors (source, seq) VALUES (?, ?) ON CONFLICT (source) DO UPDATE SET seq = max(seq, excluded.seq)',
    );
    this.upsertSize = db.prepare(
      'INSERT INTO files (name, size) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET size = excluded.size',
    );
  }

  /** The highest seq of `source` the files hold (0: none). */
  floor(source: string): number {
    let floor = this.floors.get(source);
    if (floor === undefined) {
      const row = this.selectFloor.get(source) as { seq: number } | undefined;
      floor = row?.seq ?? 0;
      if (this.floors.size >= MAX_CACHED_FLOORS) this.floors.clear();
      this.floors.set(source, floor);
    }
    return floor;
  }

  /** Commits new floors and file sizes together (one transaction), then caches the floors. */
  commit(floors: ReadonlyMap<string, number>, sizes: ReadonlyMap<string, number>): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      for (const [source, seq] of floors) this.upsertFloor.run(source, seq);
      for (const [name, size] of sizes) this.upsertSize.run(name, size);
      this.db.exec('COMMIT');
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
    for (const [source, seq] of floors) if (seq > (this.floors.get(source) ?? 0)) this.floors.set(source, seq);
  }

  async close(): Promise<void> {
    await this.files.closeAll();
    try {
      this.db.close();
    } finally {
      this.lock.release();
    }
  }
}

/**
 * One partition of the file sink (partitioned topology): the directory `FILTER_OUTPUT_DIR/<p>` with
 * the hour files of CONTRACT.md §6 for the sources of partition p, written by whichever filter
 * replica is the single active consumer of `dataflow.records.file.<p>`.
 *
 * - Ownership: a consumer session writes only while holding the directory's {@link PartitionLock},
 *   taken before its first append and given up when the session ends. A new owner reads the state
 *   after it holds the lock, so whatever the last owner wrote is accounted for, however it ended.
 * - State derived from the files: each source's highest seq and each file's committed size live in
 *   `.partition.sqlite`, committed after the lines they describe are written (and fdatasync'ed). A
 *   new owner scans each file from its committed size to its end (what an owner wrote but did not
 *   commit, at most one append), raises the floors by what it finds, and truncates a torn last line.
 * - Exactly once, in order: a partition's messages of one source arrive in `seq` order, except for
 *   repeats (a filter's publish that raced the resend the generator made to another filter, a
 *   redelivery), whose records are all at or below what the files hold by then. So a record is
 *   appended only above its source's floor, and the files hold each source's records once, in `seq`
 *   order. A replayed dead letter (`dataflow dlq replay`) may come after later records: its records
 *   at or below the floor are looked up in their hour file and appended if absent.
 * - Any failure gives the ownership up: the next append takes it again and reads the files afresh.
 */
export class PartitionFiles {
  private owner: Ownership | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly fsync: boolean,
    private readonly events: {
      waiting(dir: string): void;
      tookOver(dir: string, takeOver: TakeOver): void;
    },
  ) {}

  /**
   * Appends the records above what the files hold, for the consumer session of `signal`. Serialised
   * per partition: a write of an ended session that is still running finishes before anything else.
   */
  append(records: readonly DataRecord[], replayed: boolean, signal: AbortSignal | undefined): Promise<AppendOutcome> {
    return this.serial(async () => {
      if (signal?.aborted) throw signal.reason as Error;
      const owner = await this.ownerFor(signal);
      try {
        return await this.write(owner, records, replayed);
      } catch (error) {
        await this.giveUp();
        throw error;
      }
    });
  }

  /** Gives the ownership up (shutdown), after any write in progress. */
  close(): Promise<void> {
    return this.serial(() => this.giveUp());
  }

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.chain.then(step);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async ownerFor(signal: AbortSignal | undefined): Promise<Ownership> {
    if (this.owner && this.owner.signal === signal) return this.owner;
    await this.giveUp();
    await mkdir(this.dir, { recursive: true });
    const lock = await PartitionLock.acquire(this.dir, signal, () => this.events.waiting(this.dir));
    let db: DatabaseSync | undefined;
    try {
      db = openState(this.dir);
      const owner = new Ownership(lock, db, signal, this.dir, this.fsync);
      this.events.tookOver(this.dir, await recover(this.dir, db, owner));
      // Ended while the files were read: an abort listener added now would never run (closed below).
      if (signal?.aborted) throw signal.reason as Error;
      this.owner = owner;
      // The session's end gives the partition up at once (after a write in progress), so that the
      // next active consumer, in this process or another, does not wait.
      signal?.addEventListener(
        'abort',
        () => void this.serial(async () => (this.owner === owner ? this.giveUp() : undefined)),
        { once: true },
      );
      return owner;
    } catch (error) {
      db?.close();
      lock.release();
      throw error;
    }
  }

  private async giveUp(): Promise<void> {
    const owner = this.owner;
    this.owner = undefined;
    await owner?.close();
  }

  private async write(owner: Ownership, records: readonly DataRecord[], replayed: boolean): Promise<AppendOutcome> {
    const chunks = new Map<string, string[]>();
    const floors = new Map<string, number>();
    // A replayed batch may hold records below the floor that the files lack: which ones they have is
    // read once per hour file the batch touches.
    const present = replayed ? await this.presentIn(records) : undefined;
    let stored = 0;
    let duplicates = 0;
    for (const record of records) {
      const floor = floors.get(record.source) ?? owner.floor(record.source);
      const key = recordKey(record.source, record.seq);
      const fresh = record.seq > floor || (present !== undefined && !present.has(key));
      if (!fresh) {
        duplicates++;
        continue;
      }
      // A repeat later in this batch is a duplicate too.
      present?.add(key);
      const name = hourFileName(record.timestamp);
      let lines = chunks.get(name);
      if (!lines) chunks.set(name, (lines = []));
      lines.push(`${JSON.stringify(record)}\n`);
      floors.set(record.source, Math.max(floor, record.seq));
      stored++;
    }
    if (stored === 0) return { stored, duplicates };
    const written = await owner.files.write(chunks);
    const sizes = new Map<string, number>();
    [...chunks.keys()].forEach((name, i) => {
      const entry = written[i];
      if (entry) sizes.set(name, entry[1]);
    });
    owner.commit(floors, sizes);
    owner.files.commit(written);
    return { stored, duplicates };
  }

  /** Which of `records` their hour files hold already (replayed dead letters only): one scan per file. */
  private async presentIn(records: readonly DataRecord[]): Promise<Set<string>> {
    const wanted = new Map<string, Set<string>>();
    for (const record of records) {
      const name = hourFileName(record.timestamp);
      let keys = wanted.get(name);
      if (!keys) wanted.set(name, (keys = new Set()));
      keys.add(recordKey(record.source, record.seq));
    }
    const present = new Set<string>();
    for (const [name, keys] of wanted) {
      const path = join(this.dir, name);
      const size = await stat(path).then(
        (info) => info.size,
        () => undefined,
      );
      if (size === undefined) continue;
      await scanFile(path, 0, size, (source, seq) => {
        const key = recordKey(source, seq);
        if (keys.has(key)) present.add(key);
      });
    }
    return present;
  }
}

function recordKey(source: string, seq: number): string {
  return `${source}\n${seq}`;
}

function openState(dir: string): DatabaseSync {
  const db = new DatabaseSync(join(dir, PARTITION_STATE_FILE));
  try {
    db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS floors (source TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, size INTEGER NOT NULL) WITHOUT ROWID;
    `);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Brings the partition's state up to its files: each file is scanned past its committed size (or
 * whole, if it has none or is shorter), a torn last line truncated away, and the floors and sizes
 * found committed.
 */
async function recover(dir: string, db: DatabaseSync, owner: Ownership): Promise<TakeOver> {
  const committed = new Map<string, number>();
  for (const row of db.prepare('SELECT name, size FROM files').all() as Array<{ name: string; size: number }>) {
    committed.set(row.name, row.size);
  }
  const floors = new Map<string, number>();
  const sizes = new Map<string, number>();
  const repairedFiles: string[] = [];
  let scannedBytes = 0;
  let unreadableLines = 0;
  for (const name of (await readdir(dir)).filter(isSinkFileName).sort()) {
    const path = join(dir, name);
    const info = await stat(path);
    const recorded = committed.get(name);
    if (recorded === info.size) {
      owner.files.known(name, info.size, info.mtimeMs);
      continue;
    }
    const from = recorded !== undefined && recorded < info.size ? recorded : 0;
    const result = await scanAndRepair(path, from, info.size, (source, seq) => {
      if (seq > (floors.get(source) ?? 0)) floors.set(source, seq);
    });
    scannedBytes += info.size - from;
    unreadableLines += result.unreadable;
    if (result.repaired) repairedFiles.push(name);
    sizes.set(name, result.completeUpTo);
    owner.files.known(name, result.completeUpTo, info.mtimeMs);
  }
  if (floors.size > 0 || sizes.size > 0) owner.commit(floors, sizes);
  return { scannedBytes, repairedFiles, unreadableLines };
}
