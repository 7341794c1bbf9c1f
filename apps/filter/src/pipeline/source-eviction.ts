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

/** Sources evicted per step of a sweep (one floor-store save); a sweep takes as many steps as it needs. */
const PER_STEP = 5_000;

/** A sweep started because the count is over its bound waits this long after the previous sweep. */
const OVER_COUNT_GAP_MS = 100;

/**
 * Keeps the filter's per-source state bounded: the sources are tracked in order of last use, and a
 * sweep takes the oldest clean ones (past the count, or idle too long), makes their floors durable,
 * then forgets them, step by step until none is left to take. A sweep runs every `sweepMs`, and
 * also as soon as a new source takes the count past `maxSources` (at most every
 * {@link OVER_COUNT_GAP_MS}), so the count stays near its bound however fast new sources arrive.
 * A source used again while its floor was being written stays.
 */
export class SourceEviction {
  private readonly lastUsed = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private lastSweepEnded = 0;
  private overCountTimer: NodeJS.Timeout | undefined;
  private lastSweepFailed = false;
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
    this.sweepSoonIfOverCount();
  }

  start(): void {
    this.timer ??= setInterval(() => this.sweepInBackground(), this.options.sweepMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.overCountTimer);
    this.overCountTimer = undefined;
  }

  /** One sweep; resolves to the number of sources evicted. Never two at once. */
  sweep(now = Date.now()): Promise<number> {
    this.sweeping ??= this.run(now);
    return this.sweeping;
  }

  private async run(now: number): Promise<number> {
    try {
      const evicted = await this.evict(now);
      this.lastSweepFailed = false;
      return evicted;
    } catch (error) {
      this.lastSweepFailed = true;
      throw error;
    } finally {
      this.sweeping = undefined;
      this.lastSweepEnded = performance.now();
      this.sweepSoonIfOverCount();
    }
  }

  /**
   * Over the count (and started): a sweep after the current frame's sources are all touched, and
   * at least {@link OVER_COUNT_GAP_MS} after the previous sweep ended.
   */
  private sweepSoonIfOverCount(): void {
    if (this.timer === undefined || this.sweeping || this.overCountTimer) return;
    if (this.lastUsed.size <= this.options.maxSources) return;
    // After a failed sweep, the timer's pace: a disk that refuses writes is not retried ten times a second.
    const gap = this.lastSweepFailed ? this.options.sweepMs : OVER_COUNT_GAP_MS;
    const wait = Math.max(0, gap - (performance.now() - this.lastSweepEnded));
    this.overCountTimer = setTimeout(() => {
      this.overCountTimer = undefined;
      this.sweepInBackground();
    }, wait);
    this.overCountTimer.unref();
  }

  private sweepInBackground(): void {
    // A sweep that cannot write floors (a full disk) forgets nothing; the next one tries again.
    this.sweep().catch((error: unknown) => this.target.sweepFailed(error));
  }

  private async evict(now: number): Promise<number> {
    let evicted = 0;
    for (;;) {
      const step = await this.evictStep(now);
      evicted += step.evicted;
      // Done, or every source taken was used meanwhile: the next sweep looks again.
      if (!step.more || step.evicted === 0) return evicted;
      // Let frames and acks through between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Up to {@link PER_STEP} sources; `more` when there were more to take. */
  private async evictStep(now: number): Promise<{ evicted: number; more: boolean }> {
    const chosen = new Set<string>();
    let excess = this.lastUsed.size - this.options.maxSources;
    let more = false;
    for (const [source, used] of this.lastUsed) {
      if (excess <= 0 && now - used < this.options.idleMs) break; // the rest are newer
      if (!this.target.isClean(source)) continue;
      if (chosen.size >= PER_STEP) {
        more = true;
        break;
      }
      chosen.add(source);
      excess--;
    }
    if (chosen.size === 0) return { evicted: 0, more: false };
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
    return { evicted, more };
  }
}
