/**
 * The seqs this writer stored most recently, per source, up to `capacity` in all (the oldest batch
 * goes first). What was stored stays stored, so unlike a tail this never goes stale: it answers
 * "is this redelivered record stored?" for the common redeliveries (a filter that republished its
 * last hand-off, a message handed back and taken again) without a query, which on FerretDB means a
 * scan of the source's documents.
 */
export class RecentSeqs {
  private readonly sources = new Map<string, Set<number>>();
  private readonly batches: Array<{ readonly source: string; readonly seqs: readonly number[] }> = [];
  private size = 0;

  constructor(private readonly capacity: number) {}

  has(source: string, seq: number): boolean {
    return this.sources.get(source)?.has(seq) ?? false;
  }

  add(source: string, seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    let set = this.sources.get(source);
    if (!set) this.sources.set(source, (set = new Set()));
    for (const seq of seqs) set.add(seq);
    this.batches.push({ source, seqs });
    this.size += seqs.length;
    while (this.size > this.capacity && this.batches.length > 1) this.evictOldest();
  }

  private evictOldest(): void {
    const oldest = this.batches.shift();
    if (!oldest) return;
    this.size -= oldest.seqs.length;
    const set = this.sources.get(oldest.source);
    if (!set) return;
    for (const seq of oldest.seqs) set.delete(seq);
    if (set.size === 0) this.sources.delete(oldest.source);
  }
}
