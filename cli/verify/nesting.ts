import { isHighHash } from '@dataflow/contracts';
import { binarySearch, sortedOrder } from './seq-list';

export interface NestingResult {
  readonly documents: number;
  /** Stored documents that are not a document of the rule plus rule documents not stored. */
  readonly misnested: number;
  /** Stored documents the rule does not produce, as `head:nested,nested`. */
  readonly unexpected: number;
  /** Documents the rule produces that are not stored. */
  readonly missing: number;
  readonly unexpectedExamples: string[];
  readonly missingExamples: string[];
}

interface Member {
  readonly seq: number;
  readonly hashValue: string;
}

/**
 * Checks MongoDB documents against the nesting rule (CONTRACT.md §6), applied to the records those
 * documents hold in seq order: the stored documents must be exactly the rule's documents. The rule
 * only groups consecutive records, so each rule document is a run of the seq-ordered stream and a
 * stored document matches when it holds exactly the run starting at its head. Memory: a seq, a
 * flag and a document offset per record, so millions of records are fine.
 */
export class NestingCheck {
  private seqs = new Float64Array(64);
  private high = new Uint8Array(64);
  private size = 0;
  private starts = new Float64Array(16);
  private documents = 0;

  /** Adds a stored document: its head and nested records, in stored order. */
  addDocument(head: Member, nested: readonly Member[]): void {
    if (this.documents === this.starts.length) this.starts = grow(this.starts);
    this.starts[this.documents++] = this.size;
    this.push(head);
    for (const record of nested) this.push(record);
  }

  private push(record: Member): void {
    if (this.size === this.seqs.length) {
      this.seqs = grow(this.seqs);
      const high = new Uint8Array(this.high.length * 2);
      high.set(this.high);
      this.high = high;
    }
    this.seqs[this.size] = record.seq;
    this.high[this.size] = isHighHash(record.hashValue) ? 1 : 0;
    this.size++;
  }

  result(keepExamples = 5): NestingResult {
    const n = this.size;
    const seqs = this.seqs.subarray(0, n);
    // The stream: distinct seqs ascending; for a repeated seq the last stored copy counts.
    const order = sortedOrder(seqs);
    const stream = new Float64Array(n);
    const streamHigh = new Uint8Array(n);
    let length = 0;
    for (let i = 0; i < n; i++) {
      const index = order[i] as number;
      const seq = seqs[index] as number;
      if (length > 0 && stream[length - 1] === seq) length--;
      stream[length] = seq;
      streamHigh[length] = this.high[index] as number;
      length++;
    }
    // The rule: a record nests into its predecessor's document when both hashes are high.
    const runLength = new Float64Array(length);
    for (let i = length - 1; i >= 0; i--) {
      const continues = i + 1 < length && streamHigh[i] === 1 && streamHigh[i + 1] === 1;
      runLength[i] = continues ? (runLength[i + 1] as number) + 1 : 1;
    }
    const isHead = (i: number): boolean => i === 0 || !(streamHigh[i] === 1 && streamHigh[i - 1] === 1);
    const used = new Uint8Array(length);

    let unexpected = 0;
    const unexpectedExamples: string[] = [];
    for (let d = 0; d < this.documents; d++) {
      const start = this.starts[d] as number;
      const end = d + 1 < this.documents ? (this.starts[d + 1] as number) : n;
      const p = binarySearch(stream.subarray(0, length), seqs[start] as number);
      let matches = p >= 0 && isHead(p) && used[p] === 0 && runLength[p] === end - start;
      for (let j = 0; matches && j < end - start; j++) matches = stream[p + j] === seqs[start + j];
      if (matches) {
        used[p] = 1;
      } else {
        unexpected++;
        if (unexpectedExamples.length < keepExamples) {
          unexpectedExamples.push(signature(Array.from(seqs.subarray(start, end))));
        }
      }
    }
    let missing = 0;
    const missingExamples: string[] = [];
    for (let p = 0; p < length; p++) {
      if (!isHead(p) || used[p] === 1) continue;
      missing++;
      if (missingExamples.length < keepExamples) {
        missingExamples.push(signature(Array.from(stream.subarray(p, p + (runLength[p] as number)))));
      }
    }
    return {
      documents: this.documents,
      misnested: unexpected + missing,
      unexpected,
      missing,
      unexpectedExamples,
      missingExamples,
    };
  }
}

/** A document as `head:nested,nested`. */
function signature(members: readonly number[]): string {
  const [head, ...nested] = members;
  return `${String(head)}:${nested.join(',')}`;
}

function grow(values: Float64Array): Float64Array<ArrayBuffer> {
  const bigger = new Float64Array(values.length * 2);
  bigger.set(values);
  return bigger;
}
