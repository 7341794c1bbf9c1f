/**
 * Compact per-sink storage for reconciliation: a seq and a content fingerprint per record, in
 * growable typed arrays (12 bytes a record), so a few million records of a source fit easily.
 */
export class SeqList {
  private seqs = new Float64Array(64);
  private prints = new Uint32Array(64);
  private size = 0;
  private sorted = true;

  get length(): number {
    return this.size;
  }

  push(seq: number, print: number): void {
    if (this.size === this.seqs.length) {
      const seqs = new Float64Array(this.seqs.length * 2);
      seqs.set(this.seqs);
      this.seqs = seqs;
      const prints = new Uint32Array(this.prints.length * 2);
      prints.set(this.prints);
      this.prints = prints;
    }
    if (this.size > 0 && seq < (this.seqs[this.size - 1] as number)) this.sorted = false;
    this.seqs[this.size] = seq;
    this.prints[this.size] = print;
    this.size++;
  }

  /** Seqs ascending (repeats kept, adjacent) with their fingerprints; sorts once if needed. */
  ordered(): { readonly seqs: Float64Array; readonly prints: Uint32Array } {
    const seqs = this.seqs.subarray(0, this.size);
    const prints = this.prints.subarray(0, this.size);
    if (this.sorted) return { seqs, prints };
    const order = sortedOrder(seqs);
    const sortedSeqs = new Float64Array(this.size);
    const sortedPrints = new Uint32Array(this.size);
    order.forEach((from, to) => {
      sortedSeqs[to] = seqs[from] as number;
      sortedPrints[to] = prints[from] as number;
    });
    this.seqs = sortedSeqs;
    this.prints = sortedPrints;
    this.sorted = true;
    return { seqs: sortedSeqs, prints: sortedPrints };
  }
}

/** Indices of `values` in ascending order of value, stable for equal values. */
export function sortedOrder(values: ArrayLike<number>): Uint32Array {
  const order = new Uint32Array(values.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
}

/** A 32-bit fingerprint of a record's content, to notice the same seq stored with different values. */
export function fingerprint(timestamp: number, randomValue: number, hashValue: string): number {
  const low = timestamp % 4_294_967_296;
  const hash = Number.parseInt(hashValue, 16);
  return (low ^ Math.imul(randomValue + 1, 0x9e3779b1) ^ ((Number.isNaN(hash) ? 0x1ff : hash) << 23)) >>> 0;
}

/** Finds `value` in an ascending array; its index, or -1. */
export function binarySearch(values: ArrayLike<number>, value: number): number {
  let low = 0;
  let high = values.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const at = values[mid] as number;
    if (at === value) return mid;
    if (at < value) low = mid + 1;
    else high = mid - 1;
  }
  return -1;
}
