/** What eviction needs from the rest of the filter. */
export interface EvictionTarget {
  /** Nothing of the source pending anywhere: its floor alone says what is handed on. */
  isClean(source: string): boolean;
  /** Makes the floors of these sources durable (before anything is forgotten). */
  persist(sources: readonly string[]): Promise<void>;
  /** Drops every trace of the source from memory. */
  forget(source: string): void;
  /** A timed sweep failed (its floors could not be written); nothing was forgotten. */
  sweepFailed(error: unknown): void;
}

export interface EvictionOptions {
  /** Sources kept in memory at most; the least recently used clean ones leave beyond it. */
  readonly maxSources: number;
  /** A clean source unused this long leaves memory whatever the count. */
  readonly idleMs: number;
  /** How often to look. */
  readonly sweepMs: number;
}

/** Sources evicted in one sweep at most (one floor-store write of at most this many entries). */
const MAX_PER_SWEEP = 50_000;

/**
 * Keeps the filter's per-source state bounded: the sources are tracked in order of last use, and a
 * sweep takes the oldest clean ones (past the count, or idle too long), makes their floors durable,
 * then forgets them. A source used again while its floor was being written stays.
 */
export class SourceEviction {
  private readonly lastUsed = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  /** Sources used while a sweep writes their floors: they stay (a time stamp could tie). */
  private usedDuringSweep: Set<string> | undefined;

  constructor(
    private readonly options: EvictionOptions,
    private readonly target: EvictionTarget,
  ) {}

  get size(): number {
    return this.lastUsed.size;
  }

  /** The source is in use now (it moves to the back of the order). */
  touch(source: string, now = Date.now()): void {
    this.lastUsed.delete(source);
    this.lastUsed.set(source, now);
    this.usedDuringSweep?.add(source);
  }

  start(): void {
    this.timer ??= setInterval(() => {
      // A sweep that cannot write floors (a full disk) forgets nothing; the next one tries again.
      this.sweep().catch((error: unknown) => this.target.sweepFailed(error));
    }, this.options.sweepMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass; resolves to the number of sources evicted. Never two at once. */
  sweep(now = Date.now()): Promise<number> {
    this.sweeping ??= this.evict(now).finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async evict(now: number): Promise<number> {
    const chosen = new Set<string>();
    let excess = this.lastUsed.size - this.options.maxSources;
    for (const [source, used] of this.lastUsed) {
      if (excess <= 0 && now - used < this.options.idleMs) break; // the rest are newer
      if (!this.target.isClean(source)) continue;
      chosen.add(source);
      excess--;
      if (chosen.size >= MAX_PER_SWEEP) break;
    }
    if (chosen.size === 0) return 0;
    const usedMeanwhile = new Set<string>();
    this.usedDuringSweep = usedMeanwhile;
    try {
      await this.target.persist([...chosen]);
    } finally {
      this.usedDuringSweep = undefined;
    }
    let evicted = 0;
    for (const source of chosen) {
      if (usedMeanwhile.has(source) || !this.target.isClean(source)) continue;
      this.lastUsed.delete(source);
      this.target.forget(source);
      evicted++;
    }
    return evicted;
  }
}
