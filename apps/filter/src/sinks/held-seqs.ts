/** What a sink holds of one source, in the checkpoint's form. */
export interface HeldState {
  /** Every record at or below it was handed on to all sinks of its route. */
  readonly floor: number;
  /** Seqs above the floor this sink holds (from hand-offs not, or not yet, completed). */
  readonly above?: readonly number[];
  /**
   * The highest seq found in the sink when no exact state was known (no checkpoint): treated as
   * held, like the floor, but only by this sink.
   */
  readonly scannedMax?: number;
}

interface SourceHeld {
  floor: number;
  readonly above: Set<number>;
  scannedMax: number;
}

/**
 * What a sink holds of each source, exactly per (source, seq): everything at or below the source's
 * floor (the pipeline moves it when a hand-off completed on every sink), and above it exactly the
 * seqs this sink took in hand-offs that did not (yet) complete elsewhere: a leg that succeeded
 * while the other failed, a flush that a crash cut between two files. So a resend is handed to a
 * sink only for what that sink does not hold, whatever the highest seq it has seen.
 */
export class HeldSeqs {
  private readonly sources = new Map<string, SourceHeld>();

  holds(source: string, seq: number): boolean {
    const held = this.sources.get(source);
    return held !== undefined && (seq <= held.floor || seq <= held.scannedMax || held.above.has(seq));
  }

  floor(source: string): number {
    return this.sources.get(source)?.floor ?? 0;
  }

  add(source: string, seqs: Iterable<number>): void {
    const held = this.entry(source);
    for (const seq of seqs) if (seq > held.floor) held.above.add(seq);
  }

  /** Every record of `source` up to `floor` is handed on everywhere: forget the exact seqs below. */
  settle(source: string, floor: number): boolean {
    const held = this.entry(source);
    if (floor <= held.floor) return false;
    held.floor = floor;
    for (const seq of held.above) if (seq <= floor) held.above.delete(seq);
    return true;
  }

  get size(): number {
    return this.sources.size;
  }

  has(source: string): boolean {
    return this.sources.has(source);
  }

  /** Nothing held above the floor: the floor alone says everything this sink knows of the source. */
  isClean(source: string): boolean {
    const held = this.sources.get(source);
    return held === undefined || (held.above.size === 0 && held.scannedMax <= held.floor);
  }

  delete(source: string): void {
    this.sources.delete(source);
  }

  snapshot(): Record<string, HeldState> {
    const out: Record<string, HeldState> = {};
    for (const [source, held] of this.sources) {
      out[source] = {
        floor: held.floor,
        ...(held.above.size > 0 && { above: [...held.above].sort((a, b) => a - b) }),
        ...(held.scannedMax > held.floor && { scannedMax: held.scannedMax }),
      };
    }
    return out;
  }

  /** Merges `state` into what is known of the source: the higher floor holds. */
  restore(source: string, state: HeldState): void {
    const held = this.entry(source);
    held.floor = Math.max(held.floor, state.floor);
    held.scannedMax = Math.max(held.scannedMax, state.scannedMax ?? 0);
    for (const seq of state.above ?? []) held.above.add(seq);
    for (const seq of held.above) if (seq <= held.floor) held.above.delete(seq);
  }

  /** Without exact state: whatever the sink has up to `seq` counts as held by it. */
  scanned(source: string, seq: number): void {
    const held = this.entry(source);
    held.scannedMax = Math.max(held.scannedMax, seq);
  }

  private entry(source: string): SourceHeld {
    let held = this.sources.get(source);
    if (!held) this.sources.set(source, (held = { floor: 0, above: new Set(), scannedMax: 0 }));
    return held;
  }
}
