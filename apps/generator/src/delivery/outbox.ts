import type { DataRecord } from '@dataflow/contracts';

/**
 * Generated records in `seq` order, kept until the filter acknowledges them. Tracks which ones were
 * sent on the current connection; `rewind` makes everything unacknowledged unsent again, so a new
 * connection resends it in order. Pure data structure, no I/O.
 */
export class Outbox {
  private items: DataRecord[] = [];
  private head = 0;
  private sentTo = 0;
  private readonly ackedAhead = new Set<number>();

  push(record: DataRecord): void {
    this.items.push(record);
  }

  /** Unacknowledged records. */
  get size(): number {
    return this.items.length - this.head - this.ackedAhead.size;
  }

  /** Records not yet taken since the last rewind (some may have been acknowledged meanwhile). */
  get unsentCount(): number {
    return this.items.length - this.sentTo;
  }

  /** Takes up to `max` unsent records, in order, and marks them sent. */
  takeUnsent(max: number): DataRecord[] {
    const end = Math.min(this.items.length, this.sentTo + max);
    const taken = this.items.slice(this.sentTo, end);
    this.sentTo = end;
    return taken.filter((record) => !this.ackedAhead.has(record.seq));
  }

  /** Marks `seqs` acknowledged; returns how many of them were still unacknowledged. */
  ack(seqs: readonly number[]): number {
    let settled = 0;
    const first = this.items[this.head]?.seq;
    const last = this.items[this.items.length - 1]?.seq;
    if (first === undefined || last === undefined) return 0;
    for (const seq of seqs) {
      if (seq < first || seq > last || this.ackedAhead.has(seq)) continue;
      this.ackedAhead.add(seq);
      settled++;
    }
    while (this.head < this.items.length) {
      const seq = (this.items[this.head] as DataRecord).seq;
      if (!this.ackedAhead.delete(seq)) break;
      this.head++;
    }
    this.sentTo = Math.max(this.sentTo, this.head);
    this.compact();
    return settled;
  }

  /** Everything unacknowledged becomes unsent again (a new connection resends it). */
  rewind(): number {
    let resent = 0;
    for (let i = this.head; i < this.sentTo; i++) {
      if (!this.ackedAhead.has((this.items[i] as DataRecord).seq)) resent++;
    }
    this.sentTo = this.head;
    return resent;
  }

  private compact(): void {
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.sentTo -= this.head;
      this.head = 0;
    }
  }
}
