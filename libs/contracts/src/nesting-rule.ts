import { DataRecord, isHighHash } from './data-record';

/** A MongoDB document of CONTRACT.md §6: the head record's fields plus the records nested into it. */
export interface NestedDocument extends DataRecord {
  readonly nestedRecords: DataRecord[];
}

/** Where the previous record of a source ended up: enough to continue the rule across batches. */
export interface NestingTail {
  /** seq of the last record of the source already stored. */
  readonly lastSeq: number;
  /** hashValue of that record. */
  readonly lastHash: string;
  /** seq of the head of the document holding it. */
  readonly headSeq: number;
}

export interface NestingPlan {
  /** Records appended, in order, to the already-stored document headed by `tail.headSeq`. */
  readonly appendToTail: DataRecord[];
  /** New documents, in order. */
  readonly newDocuments: NestedDocument[];
  /** Records dropped because their seq is at or below the stored tail or repeated in the input. */
  readonly duplicates: DataRecord[];
  /** The tail after applying the plan (unchanged when nothing new). */
  readonly tail: NestingTail | undefined;
}

/**
 * The nesting rule's pure core, for one source. `records` may be unsorted and hold repeats; `tail`
 * is where the stored stream ends. A record nests into the document holding its predecessor when
 * both hashes are > "99"; anything else starts a document.
 */
export function planNesting(records: readonly DataRecord[], tail: NestingTail | undefined): NestingPlan {
  const sorted = [...records].sort((a, b) => a.seq - b.seq);
  const appendToTail: DataRecord[] = [];
  const newDocuments: NestedDocument[] = [];
  const duplicates: DataRecord[] = [];
  let current = tail;
  let open: NestedDocument | undefined;

  for (const record of sorted) {
    if (current !== undefined && record.seq <= current.lastSeq) {
      duplicates.push(record);
      continue;
    }
    const nests = current !== undefined && isHighHash(record.hashValue) && isHighHash(current.lastHash);
    let headSeq: number;
    if (!nests || current === undefined) {
      open = { ...record, nestedRecords: [] };
      newDocuments.push(open);
      headSeq = record.seq;
    } else if (open !== undefined) {
      open.nestedRecords.push(record);
      headSeq = open.seq;
    } else {
      appendToTail.push(record);
      headSeq = current.headSeq;
    }
    current = { lastSeq: record.seq, lastHash: record.hashValue, headSeq };
  }
  return { appendToTail, newDocuments, duplicates, tail: current };
}

/** The rule applied to a whole ordered stream: what the stored documents must equal. */
export function nestStream(records: readonly DataRecord[]): NestedDocument[] {
  return planNesting(records, undefined).newDocuments;
}
