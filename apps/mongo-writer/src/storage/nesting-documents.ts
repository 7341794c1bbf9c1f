import type { DataRecord, NestedDocument, NestingTail } from '@dataflow/contracts';

/** How an insert of a source's new documents went. */
export interface InsertResult {
  /** Indexes (into the documents given) of those that existed already: left as they were. */
  readonly existing: readonly number[];
}

/**
 * The MongoDB operations the nesting writer is built from, each atomic on one document. No
 * transaction spans two of them (FerretDB has none), so the writer's correctness rests on their
 * order and their conditions (see NestingWriter). Lookups go by `_id` only: FerretDB answers any
 * other filter, and any sort, with a scan of the whole collection.
 */
export interface NestingDocuments {
  /** Where the source's stream ended at some earlier point: at or behind the stored documents. */
  readHint(source: string): Promise<NestingTail | undefined>;
  /** Moves the hint to `tail`, only forward (a hint already further on is left as it is). */
  moveHint(source: string, tail: NestingTail): Promise<void>;
  /** The document headed by `headSeq`, or undefined. */
  read(source: string, headSeq: number): Promise<NestedDocument | undefined>;
  /** The documents headed by `headSeqs`, in their order (undefined where there is none). */
  readAll(source: string, headSeqs: readonly number[]): Promise<Array<NestedDocument | undefined>>;
  /**
   * Appends `records` to the document headed by `headSeq` only if it still nests exactly
   * `expectedCount` records; false when it does not (someone appended meanwhile).
   */
  append(source: string, headSeq: number, expectedCount: number, records: readonly DataRecord[]): Promise<boolean>;
  /**
   * Inserts every document that does not exist yet and reports those that do. The documents go in
   * several commands at once, so a failure may leave any subset of them stored, holes included.
   */
  insert(documents: readonly NestedDocument[]): Promise<InsertResult>;
  /** The seqs of `source` that some document holds, as head or nested. */
  present(source: string, seqs: readonly number[]): Promise<Set<number>>;
  /** Stores records that arrived after later ones as documents of their own (idempotent). */
  insertLate(records: readonly DataRecord[]): Promise<void>;
}
