import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectConnection, InjectModel } from '@nestjs/mongoose';
import type { Connection, Model, mongo } from 'mongoose';
import { DataRecord, NestingTail, planNesting } from '@dataflow/contracts';
import type { RecordStore, StoreOutcome } from '@dataflow/messaging';
import { Timed } from '@dataflow/observability/instrumentation';
import { Resilient } from '@dataflow/resilience';
import { MONGODB_POLICY } from './mongodb.policy';
import { DATA_DOCUMENT_MODEL, DataDocument, documentId } from './data-document.schema';

export const TAILS_COLLECTION = 'nesting_tails';

/** Bulk writes of one batch in flight at once (FerretDB stores in PostgreSQL, which works on them in parallel). */
const PARALLEL_WRITES = 4;
const MIN_OPERATIONS_PER_WRITE = 64;

/** Where a source's stored stream ends. */
interface TailDocument extends NestingTail {
  _id: string;
}

/**
 * Applies the nesting rule with its state in the database. Each source has a small tail document
 * in `nesting_tails` (its last stored record's seq and hash, and the head seq of the document
 * holding it), read by `_id` before each batch, so a restart or a standby replica continues exactly
 * where the stream stopped.
 *
 * A batch becomes a few unordered bulk writes (records appended to the tail's document, the new
 * documents), and only when all succeeded is the tail moved on. There are no transactions, so a
 * crash can leave the data ahead of the tail; the redelivered batch is then planned from the old
 * tail again, which yields the same operations, and repeating them changes nothing: an append is
 * guarded (`nestedRecords.seq` must not already hold its first seq, and one `$push $each` is atomic),
 * and a new document's id is derived from its head, so an existing one is skipped.
 */
@Injectable()
export class MongoRecordStore implements RecordStore, OnModuleInit {
  readonly sink = 'mongodb';
  private readonly logger = new Logger(MongoRecordStore.name);

  constructor(
    @InjectModel(DATA_DOCUMENT_MODEL) private readonly documents: Model<DataDocument>,
    @InjectConnection() private readonly connection: Connection,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.documents.createIndexes();
  }

  /** Transient failures are retried with backoff until they succeed, counted by the breaker. */
  @Resilient(MONGODB_POLICY)
  @Timed('mongodb.store', { sink: 'mongodb' })
  async store(records: DataRecord[]): Promise<StoreOutcome> {
    let stored = 0;
    let duplicates = 0;
    for (const [source, group] of groupBySource(records)) {
      const tail = await this.tail(source);
      const plan = planNesting(group, tail);
      duplicates += plan.duplicates.length;
      const operations: mongo.AnyBulkWriteOperation<DataDocument>[] = [];
      const first = plan.appendToTail[0];
      if (first && tail) {
        operations.push({
          updateOne: {
            filter: { _id: documentId(source, tail.headSeq), 'nestedRecords.seq': { $ne: first.seq } },
            update: { $push: { nestedRecords: { $each: plan.appendToTail } } },
          },
        });
      }
      for (const document of plan.newDocuments) {
        operations.push({ insertOne: { document: { _id: documentId(source, document.seq), ...document } } });
      }
      // At or below the tail: normally a redelivery of what is stored. A record that is not there
      // (a dead-lettered message replayed after later records were stored) is stored late, as its
      // own document: never dropped, though the nesting cannot be applied after the fact.
      // (Repeats of records of this very batch, above the tail, are in the plan already.)
      const older = plan.duplicates.filter((r) => r.seq <= (tail?.lastSeq ?? 0));
      const late = older.length > 0 ? await this.missing(source, older) : [];
      for (const record of late) {
        operations.push({
          insertOne: { document: { _id: documentId(source, record.seq), ...record, nestedRecords: [] } },
        });
      }
      if (late.length > 0) {
        this.logger.warn(
          `stored ${late.length} late records of ${source} (seqs ${late[0]?.seq}..${late.at(-1)?.seq}) as their own documents: they arrived after later records, so they are not nested`,
        );
      }
      duplicates -= late.length;
      stored += late.length;
      await this.writeAll(operations);
      if (plan.tail && plan.tail.lastSeq > (tail?.lastSeq ?? 0)) {
        const { lastSeq, lastHash, headSeq } = plan.tail;
        await this.tails.updateOne({ _id: source }, { $set: { lastSeq, lastHash, headSeq } }, { upsert: true });
      }
      stored += plan.appendToTail.length + plan.newDocuments.reduce((n, d) => n + 1 + d.nestedRecords.length, 0);
    }
    return { stored, duplicates };
  }

  /** Mongo errors are about the server or the connection, never about our validated records. */
  isPermanent(): boolean {
    return false;
  }

  async ping(): Promise<void> {
    await this.connection.db?.admin().ping();
  }

  /**
   * The batch's operations, straight to the driver (the records are validated already), as up to
   * {@link PARALLEL_WRITES} unordered bulk writes at once: every operation is idempotent on its own
   * (a new document's id is derived from its head and an existing one is skipped; an append is
   * guarded), so neither their order nor a repeat after a crash matters, and the server can work on
   * several at a time. Only duplicate-id errors are expected; anything else fails the batch, which is
   * retried whole. (An upsert with `$setOnInsert` would avoid the duplicate errors, but FerretDB drops
   * empty arrays from it, and every document must carry `nestedRecords`, empty or not.)
   */
  private async writeAll(operations: mongo.AnyBulkWriteOperation<DataDocument>[]): Promise<void> {
    if (operations.length === 0) return;
    const size = Math.max(MIN_OPERATIONS_PER_WRITE, Math.ceil(operations.length / PARALLEL_WRITES));
    const chunks: mongo.AnyBulkWriteOperation<DataDocument>[][] = [];
    for (let i = 0; i < operations.length; i += size) chunks.push(operations.slice(i, i + size));
    // allSettled: a failed chunk is reported only once every chunk has stopped writing.
    const results = await Promise.allSettled(chunks.map((chunk) => this.writeUnordered(chunk)));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async writeUnordered(operations: mongo.AnyBulkWriteOperation<DataDocument>[]): Promise<void> {
    try {
      await this.collection.bulkWrite(operations, { ordered: false });
    } catch (error) {
      if (!onlyDuplicateIds(error)) throw error;
    }
  }

  /** Those of `records` (one source) that no document holds, as head or nested. */
  private async missing(source: string, records: readonly DataRecord[]): Promise<DataRecord[]> {
    const seqs = records.map((r) => r.seq);
    const found = await this.collection
      .find(
        { source, $or: [{ seq: { $in: seqs } }, { 'nestedRecords.seq': { $in: seqs } }] },
        { projection: { seq: 1, 'nestedRecords.seq': 1 } },
      )
      .toArray();
    const present = new Set<number>();
    for (const document of found) {
      present.add(document.seq);
      for (const nested of document.nestedRecords) present.add(nested.seq);
    }
    const unique = new Map<number, DataRecord>();
    for (const record of records) if (!present.has(record.seq)) unique.set(record.seq, record);
    return [...unique.values()].sort((a, b) => a.seq - b.seq);
  }

  /** The model's driver collection, typed with our document (Mongoose types it as `Document`). */
  private get collection(): mongo.Collection<DataDocument> {
    return this.documents.collection as unknown as mongo.Collection<DataDocument>;
  }

  private get tails(): mongo.Collection<TailDocument> {
    return this.documents.db.collection<TailDocument>(TAILS_COLLECTION);
  }

  private async tail(source: string): Promise<NestingTail | undefined> {
    const found = await this.tails.findOne({ _id: source });
    return found ? { lastSeq: found.lastSeq, lastHash: found.lastHash, headSeq: found.headSeq } : undefined;
  }
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

/** Whether a bulk write failed only because some new documents existed already. */
function onlyDuplicateIds(error: unknown): boolean {
  const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
  const list = Array.isArray(writeErrors) ? (writeErrors as Array<{ code?: number }>) : [];
  const concern = (error as { writeConcernError?: unknown }).writeConcernError;
  return list.length > 0 && concern === undefined && list.every((e) => e.code === 11000);
}
