import { DataRecord, NestedDocument, NestingTail, planNesting } from '@dataflow/contracts';
import { inParallel } from './in-parallel';
import type { NestingDocuments } from './nesting-documents';

export interface NestingOutcome {
  /** Records this call placed (appended, in a new document, or stored late). */
  readonly stored: number;
  /** Records some document held already. */
  readonly duplicates: number;
}

export interface NestingWriterOptions {
  /** Sources written at the same time (each source's own operations stay strictly in order). */
  readonly parallelSources: number;
  /** Re-plans after conflicting writes before the call fails (and is retried by its policy). */
  readonly maxConflicts: number;
  /** Told of every conflict: someone else wrote the source between our read and our write. */
  readonly onConflict?: (source: string) => void;
  /** Told of records stored late, as documents of their own. */
  readonly onLate?: (source: string, records: readonly DataRecord[]) => void;
}

/** Another writer kept moving the source's stream on while this one tried to continue it. */
export class NestingConflictError extends Error {
  override readonly name = 'NestingConflictError';
}

/** Where a source's stored stream ends: its last document and that document's last record. */
interface StoredTail extends NestingTail {
  /** How many records the last document nests: what its next append is conditional on. */
  readonly nestedCount: number;
}

/**
 * The nesting rule kept exact in MongoDB without transactions, however the stream is batched,
 * redelivered, interrupted, or written by two processes at once.
 *
 * - **Each source's writes go in stream order, its new documents all at once**: the append to the
 *   last document, then the new documents (several insert commands in flight), then the hint. A crash
 *   between or inside them leaves the stream stored up to the hint, and beyond it any subset of the
 *   planned documents, holes included.
 * - **The tail is read from the documents.** The per-source hint (`nesting_tails`) only says where
 *   to start looking: it is moved forward after every document up to the one it names was written,
 *   so it is at or behind the end of the stored stream, with no hole before it. The hinted document
 *   is read as it is, and the stream is planned on from there. The insert then stores every planned
 *   document that does not exist yet and reports those that do (an interrupted attempt, or another
 *   writer, stored them): each of these holds its planned records or a beginning of them (it ended
 *   an earlier, shorter batch), and is completed. Holes fill, and nothing is written twice.
 *   The writer keeps the tail it last wrote in memory only while nobody else can have written
 *   ({@link forget}: at every new consumer session).
 * - **Every write is conditional on the position it continues.** An append applies only while the
 *   document still nests the count it was planned against (`$size`, one atomic update); a new
 *   document's `_id` is its head (`source:seq`), so it is inserted once. A writer holding a stale
 *   position (a replica still finishing what it handed over, a cached tail someone moved on) fails
 *   its write, reads again and re-plans. Every document any writer produces is the rule's document
 *   for that place in the stream (it plans from a true tail over a contiguous part of the stream),
 *   so whichever of two writers lands first, the result is the same.
 * - A record at or below the tail is a redelivered duplicate (CONTRACT.md §1), unless it comes
 *   with a replayed dead letter (REPLAYED_HEADER): then it may have arrived after later records,
 *   and if no document holds it, it is stored as a document of its own (the rule cannot be applied
 *   after the fact) and reported.
 */
export class NestingWriter {
  private readonly tails = new Map<string, StoredTail>();

  constructor(
    private readonly documents: NestingDocuments,
    private readonly options: NestingWriterOptions,
  ) {}

  /** Forgets every remembered tail: the next write of each source reads it from the documents. */
  forget(): void {
    this.tails.clear();
  }

  /** `replayed`: some records come from a replayed dead letter (see storeLate). */
  async write(
    records: readonly DataRecord[],
    { replayed }: { readonly replayed: boolean },
    signal?: AbortSignal,
  ): Promise<NestingOutcome> {
    const groups = [...groupBySource(records)];
    let stored = 0;
    let duplicates = 0;
    await inParallel(groups, this.options.parallelSources, async ([source, group]) => {
      const outcome = await this.writeSource(source, group, replayed, signal);
      stored += outcome.stored;
      duplicates += outcome.duplicates;
    });
    return { stored, duplicates };
  }

  private async writeSource(
    source: string,
    records: DataRecord[],
    replayed: boolean,
    signal?: AbortSignal,
  ): Promise<NestingOutcome> {
    for (let attempt = 0; attempt <= this.options.maxConflicts; attempt++) {
      signal?.throwIfAborted();
      const outcome = await this.tryWriteSource(source, records, replayed, signal);
      if (outcome) return outcome;
      this.options.onConflict?.(source);
    }
    throw new NestingConflictError(
      `another writer kept moving ${source} on (${this.options.maxConflicts + 1} attempts); the batch is retried`,
    );
  }

  /** One plan and its writes; undefined on a conflict. */
  private async tryWriteSource(
    source: string,
    records: DataRecord[],
    replayed: boolean,
    signal?: AbortSignal,
  ): Promise<NestingOutcome | undefined> {
    const tail = this.tails.get(source) ?? (await this.locate(source));
    // Forgotten until this attempt has landed whole: a failure part-way leaves the documents ahead.
    this.tails.delete(source);
    const plan = planNesting(records, tail);
    if (tail && plan.appendToTail.length > 0) {
      signal?.throwIfAborted();
      if (!(await this.documents.append(source, tail.headSeq, tail.nestedCount, plan.appendToTail))) return undefined;
    }
    signal?.throwIfAborted();
    const inserted = await this.insertAll(source, plan.newDocuments, signal);
    if (inserted === 'conflict') return undefined;
    const newTail: StoredTail | undefined =
      inserted.tail ?? (tail && { ...tail, ...plan.tail, nestedCount: tail.nestedCount + plan.appendToTail.length });
    const late = tail && replayed ? await this.storeLate(source, plan.duplicates, tail.lastSeq, signal) : 0;
    if (newTail) {
      // Even from an attempt abandoned by now: the hint only moves forward, and only onto documents
      // this attempt found or wrote, so a late move never points past what is stored.
      if (newTail.lastSeq !== tail?.lastSeq) await this.documents.moveHint(source, newTail);
      // An attempt abandoned meanwhile (its session ended, its policy timed it out) may finish late,
      // after forget() and after writes of the next session: what it saw is no longer for us to keep.
      if (!signal?.aborted) this.tails.set(source, newTail);
    }
    const stored = plan.appendToTail.length + inserted.written + late;
    return { stored, duplicates: records.length - stored };
  }

  /** The tail as the documents have it, starting from the hint. */
  private async locate(source: string): Promise<StoredTail | undefined> {
    const hint = await this.documents.readHint(source);
    if (!hint) return undefined;
    const document = await this.documents.read(source, hint.headSeq);
    // A hint whose document is gone (the source's documents were deleted): start over.
    return document && tailOf(document);
  }

  /**
   * Inserts `documents`. Those that exist already were stored by an interrupted attempt or by
   * another writer. Each of them holds what is planned for it, or a beginning of it: the last
   * document of an earlier, shorter batch. Such a document is completed. Returns the tail after the
   * last document and how many records this attempt wrote itself, or 'conflict'.
   */
  private async insertAll(
    source: string,
    documents: readonly NestedDocument[],
    signal?: AbortSignal,
  ): Promise<{ tail: StoredTail | undefined; written: number } | 'conflict'> {
    const last = documents.at(-1);
    if (!last) return { tail: undefined, written: 0 };
    const { existing } = await this.documents.insert(documents);
    let written = recordsIn(documents);
    let tail = tailOf(last);
    if (existing.length === 0) return { tail, written };
    signal?.throwIfAborted();
    const existed = existing.map((index) => documents[index] as NestedDocument);
    written -= recordsIn(existed);
    // Only a document that nests records, or the last, can hold less or more than planned.
    const planned = existed.filter((plan) => plan.nestedRecords.length > 0 || plan === last);
    const stored = await this.documents.readAll(
      source,
      planned.map((document) => document.seq),
    );
    for (const [i, plan] of planned.entries()) {
      const document = stored[i];
      // Deleted since the insert found it (the source's documents were removed): plan again.
      if (!document) return 'conflict';
      const held = document.nestedRecords;
      if (held.length >= plan.nestedRecords.length) {
        // Holds all that is planned (the last may hold more: another writer got further).
        if (plan === last) tail = tailOf(document);
        continue;
      }
      if (!isPrefix(held, plan.nestedRecords)) {
        throw new Error(`document ${source}:${plan.seq} does not continue as the stream does; not writing over it`);
      }
      const missing = plan.nestedRecords.slice(held.length);
      signal?.throwIfAborted();
      if (!(await this.documents.append(source, plan.seq, held.length, missing))) return 'conflict';
      written += missing.length;
    }
    return { tail, written };
  }

  /**
   * Records at or below the tail are redelivered duplicates (CONTRACT.md §1), except in a replayed
   * dead letter: it may bring records that arrived after later ones and that no document holds.
   * Those are stored on their own, never dropped. Only then is it worth a query (which FerretDB
   * answers by reading the source's documents). (Repeats of this batch's own records are above the
   * old tail and were placed by the plan already.)
   */
  private async storeLate(
    source: string,
    duplicates: readonly DataRecord[],
    lastSeq: number,
    signal?: AbortSignal,
  ): Promise<number> {
    const older = duplicates.filter((r) => r.seq <= lastSeq);
    if (older.length === 0) return 0;
    signal?.throwIfAborted();
    const present = await this.documents.present(
      source,
      older.map((r) => r.seq),
    );
    const missing = new Map<number, DataRecord>();
    for (const record of older) if (!present.has(record.seq)) missing.set(record.seq, record);
    if (missing.size === 0) return 0;
    const late = [...missing.values()].sort((a, b) => a.seq - b.seq);
    await this.documents.insertLate(late);
    this.options.onLate?.(source, late);
    return late.length;
  }
}

function tailOf(document: NestedDocument): StoredTail {
  const last = document.nestedRecords.at(-1) ?? document;
  return {
    headSeq: document.seq,
    nestedCount: document.nestedRecords.length,
    lastSeq: last.seq,
    lastHash: last.hashValue,
  };
}

/** Records in `documents`: each head and what is nested in it. */
function recordsIn(documents: readonly NestedDocument[]): number {
  return documents.reduce((n, d) => n + 1 + d.nestedRecords.length, 0);
}

function isPrefix(prefix: readonly DataRecord[], of: readonly DataRecord[]): boolean {
  return prefix.length <= of.length && prefix.every((record, i) => record.seq === of[i]?.seq);
}

function groupBySource(records: readonly DataRecord[]): Map<string, DataRecord[]> {
  const groups = new Map<string, DataRecord[]>();
  for (const record of records) {
    const group = groups.get(record.source);
    if (group) group.push(record);
    else groups.set(record.source, [record]);
  }
  return groups;
}
