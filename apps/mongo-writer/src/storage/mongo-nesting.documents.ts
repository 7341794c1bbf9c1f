import type { mongo } from 'mongoose';
import type { DataRecord, NestedDocument, NestingTail } from '@dataflow/contracts';
import type { InsertResult, NestingDocuments } from './nesting-documents';
import { type DataDocument, documentId } from './data-document.schema';
import { inParallel } from './in-parallel';

/** One hint per source: where its stream ended when last written. Small, so read by `_id` at once. */
export const TAILS_COLLECTION = 'nesting_tails';

export interface TailHint extends NestingTail {
  _id: string;
}

const DUPLICATE_KEY = 11000;

/**
 * Documents per insert command: FerretDB 1.24 runs an insert as SQL statements of 100 rows, so a
 * command of one statement's rows is the unit it works on.
 */
export const INSERT_CHUNK = 100;
/**
 * Insert commands of one call in flight at once. FerretDB works on several at a time (measured
 * alone: 15,400 documents/s one command at a time, 26,300/s four at a time).
 */
export const INSERT_PARALLEL = 4;

/**
 * NestingDocuments on the MongoDB driver (the writer's connection, or any other client): the data
 * collection and the hints. Records are written with their fields in contract order, whatever order
 * a publisher sent them in.
 */
export class MongoNestingDocuments implements NestingDocuments {
  constructor(
    private readonly collection: mongo.Collection<DataDocument>,
    private readonly hints: mongo.Collection<TailHint>,
  ) {}

  async readHint(source: string): Promise<NestingTail | undefined> {
    const found = await this.hints.findOne({ _id: source });
    return found ? { lastSeq: found.lastSeq, lastHash: found.lastHash, headSeq: found.headSeq } : undefined;
  }

  async moveHint(source: string, tail: NestingTail): Promise<void> {
    const { lastSeq, lastHash, headSeq } = tail;
    try {
      // Matches only a hint that is behind; a hint at or ahead makes the upsert's insert collide.
      await this.hints.updateOne(
        { _id: source, lastSeq: { $lt: lastSeq } },
        { $set: { lastSeq, lastHash, headSeq } },
        { upsert: true },
      );
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }

  async read(source: string, headSeq: number): Promise<NestedDocument | undefined> {
    const found = await this.collection.findOne({ _id: documentId(source, headSeq) });
    if (!found) return undefined;
    const { _id: _ignored, ...document } = found;
    return document;
  }

  /**
   * One lookup by `_id` each, all at once. FerretDB 1.24 answers an `_id` equality from its index,
   * but an `$in` with a scan of the whole collection (its explain: `filterPushdown: false`).
   */
  readAll(source: string, headSeqs: readonly number[]): Promise<Array<NestedDocument | undefined>> {
    return Promise.all(headSeqs.map((seq) => this.read(source, seq)));
  }

  async append(
    source: string,
    headSeq: number,
    expectedCount: number,
    records: readonly DataRecord[],
  ): Promise<boolean> {
    const result = await this.collection.updateOne(
      { _id: documentId(source, headSeq), nestedRecords: { $size: expectedCount } },
      { $push: { nestedRecords: { $each: records.map(contractOrder) } } },
    );
    return result.matchedCount === 1;
  }

  async insert(documents: readonly NestedDocument[]): Promise<InsertResult> {
    const chunks: number[] = [];
    for (let from = 0; from < documents.length; from += INSERT_CHUNK) chunks.push(from);
    const existing: number[] = [];
    await inParallel(chunks, INSERT_PARALLEL, async (from) => {
      try {
        await this.collection.insertMany(documents.slice(from, from + INSERT_CHUNK).map(asDocument), {
          ordered: false,
        });
      } catch (error) {
        if (!onlyDuplicateKeys(error)) throw error;
        for (const { index } of writeErrorsOf(error)) if (typeof index === 'number') existing.push(from + index);
      }
    });
    return { existing: existing.sort((a, b) => a - b) };
  }

  async present(source: string, seqs: readonly number[]): Promise<Set<number>> {
    const wanted = [...seqs];
    const found = await this.collection
      .find(
        { source, $or: [{ seq: { $in: wanted } }, { 'nestedRecords.seq': { $in: wanted } }] },
        { projection: { seq: 1, 'nestedRecords.seq': 1 } },
      )
      .toArray();
    const present = new Set<number>();
    for (const document of found) {
      present.add(document.seq);
      for (const nested of document.nestedRecords) present.add(nested.seq);
    }
    return present;
  }

  async insertLate(records: readonly DataRecord[]): Promise<void> {
    try {
      await this.collection.insertMany(
        records.map((record) => ({
          _id: documentId(record.source, record.seq),
          ...contractOrder(record),
          nestedRecords: [],
        })),
        { ordered: false },
      );
    } catch (error) {
      if (!onlyDuplicateKeys(error)) throw error;
    }
  }
}

function contractOrder(record: DataRecord): DataRecord {
  const { source, seq, timestamp, randomValue, hashValue } = record;
  return { source, seq, timestamp, randomValue, hashValue };
}

function asDocument(document: NestedDocument): DataDocument {
  return {
    _id: documentId(document.source, document.seq),
    ...contractOrder(document),
    nestedRecords: document.nestedRecords.map(contractOrder),
  };
}

interface BulkErrorShape {
  code?: unknown;
  writeErrors?: unknown;
  writeConcernError?: unknown;
}

function writeErrorsOf(error: unknown): Array<{ code?: number; index?: number }> {
  const { writeErrors } = (error ?? {}) as BulkErrorShape;
  if (Array.isArray(writeErrors)) return writeErrors as Array<{ code?: number; index?: number }>;
  return writeErrors && typeof writeErrors === 'object' ? [writeErrors] : [];
}

function isDuplicateKey(error: unknown): boolean {
  return (error as BulkErrorShape | undefined)?.code === DUPLICATE_KEY;
}

function onlyDuplicateKeys(error: unknown): boolean {
  const errors = writeErrorsOf(error);
  return (
    errors.length > 0 &&
    (error as BulkErrorShape).writeConcernError === undefined &&
    errors.every((e) => e.code === DUPLICATE_KEY)
  );
}
