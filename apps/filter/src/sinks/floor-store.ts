import { mkdir, open, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/** Directory of the store inside the file sink's directory. */
export const FLOORS_DIR = '.floors';
const BUCKETS = 256;
/** Bits of the filter of evicted sources (2 MiB): about 1 % false positives at a million sources. */
const FILTER_BITS = 1 << 24;
const FILTER_HASHES = 7;

/**
 * The floors of sources whose state left memory (see RecordPipeline's eviction): durable, on disk,
 * in 256 bucket files (`.floors/NN.json`, `{source: floor}`) by a hash of the source, each replaced
 * atomically (temp file, fsync, rename). A Bloom filter of the evicted sources, rebuilt from the
 * buckets at start, answers "never evicted" for a source seen for the first time without touching
 * the disk; a source it may hold costs one bucket read.
 *
 * So the memory and the checkpoint are bounded by the sources in memory, and a source that comes
 * back after any time still finds its floor: its resends are still recognised as duplicates.
 */
export class FloorStore {
  private readonly filter = new Uint8Array(FILTER_BITS / 8);
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly sinkDir: string) {}

  private get dir(): string {
    return join(this.sinkDir, FLOORS_DIR);
  }

  /** Reads every bucket once, to know which sources were evicted. Returns how many there are. */
  async open(): Promise<number> {
    await mkdir(this.dir, { recursive: true });
    let count = 0;
    for (const name of await readdir(this.dir)) {
      if (!/^[0-9a-f]{2}\.json$/.test(name)) continue;
      for (const source of Object.keys(await this.readBucket(name))) {
        this.mark(source);
        count++;
      }
    }
    return count;
  }

  /** False: the source was certainly never evicted. */
  mayHave(source: string): boolean {
    return this.positions(source).every((bit) => ((this.filter[bit >>> 3] as number) & (1 << (bit & 7))) !== 0);
  }

  async floor(source: string): Promise<number | undefined> {
    if (!this.mayHave(source)) return undefined;
    return (await this.readBucket(bucketOf(source)))[source];
  }

  /**
   * Makes these floors durable (each bucket rewritten once); a floor never moves back. Rejects when
   * a bucket cannot be read or written: the sources then stay in memory (nothing is forgotten).
   */
  save(floors: ReadonlyMap<string, number>): Promise<void> {
    const byBucket = new Map<string, Array<[string, number]>>();
    for (const [source, floor] of floors) {
      const name = bucketOf(source);
      const list = byBucket.get(name);
      if (list) list.push([source, floor]);
      else byBucket.set(name, [[source, floor]]);
    }
    // Serialised: two saves of one bucket must not interleave their read and write. A failed save
    // fails its caller only; the next one starts afresh.
    const saved = this.writing.then(async () => {
      for (const [name, entries] of byBucket) {
        const bucket = await this.readBucket(name);
        for (const [source, floor] of entries) bucket[source] = Math.max(floor, bucket[source] ?? 0);
        await writeDurably(this.dir, name, JSON.stringify(bucket));
        for (const [source] of entries) this.mark(source);
      }
    });
    this.writing = saved.catch(() => undefined);
    return saved;
  }

  /**
   * A bucket's floors; a bucket not written yet is empty. Any other failure (the disk, a file that is
   * not a bucket) rejects: taken for empty, it would give its sources floor 0 (their resends would
   * be written again) and the next save would write the bucket back without them.
   */
  private async readBucket(name: string): Promise<Record<string, number>> {
    const path = join(this.dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${path} is not a floor bucket (not JSON); move it away to start without it`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`${path} is not a floor bucket (not an object); move it away to start without it`);
    }
    const floors: Record<string, number> = {};
    for (const [source, floor] of Object.entries(parsed)) {
      if (!Number.isSafeInteger(floor) || (floor as number) < 0) {
        throw new Error(`${path}: the floor of ${JSON.stringify(source).slice(0, 80)} is not a seq`);
      }
      floors[source] = floor as number;
    }
    return floors;
  }

  private mark(source: string): void {
    for (const bit of this.positions(source))
      this.filter[bit >>> 3] = (this.filter[bit >>> 3] as number) | (1 << (bit & 7));
  }

  /** Double hashing over two FNV-1a variants. */
  private positions(source: string): number[] {
    const a = fnv1a(source, 0x811c9dc5);
    const b = fnv1a(source, 0x01000193) | 1;
    return Array.from({ length: FILTER_HASHES }, (_, i) => ((a + i * b) >>> 0) & (FILTER_BITS - 1));
  }
}

function fnv1a(text: string, seed: number): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function bucketOf(source: string): string {
  return `${(fnv1a(source, 0x811c9dc5) & (BUCKETS - 1)).toString(16).padStart(2, '0')}.json`;
}

/** Replaces `dir/name` atomically and durably: temp file, fsync, rename, fsync of the directory. */
async function writeDurably(dir: string, name: string, text: string): Promise<void> {
  const path = join(dir, name);
  const temp = `${path}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  // The rename is durable only once the directory is: without this a power loss could keep a later
  // checkpoint (without the evicted sources) and lose the bucket that holds their floors.
  const directory = await open(dir, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
