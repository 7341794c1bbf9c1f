import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectConnection, InjectModel } from '@nestjs/mongoose';
import type { Connection, Model, mongo } from 'mongoose';
import { DataRecord, NestingTail, planNesting } from '@dataflow/contracts';
import type { RecordStore, StoreOutcome } from '@dataflow/messaging';
import { DATA_DOCUMENT_MODEL, DataDocument, documentId } from './data-document.schema';

const RECORD_PROJECTION = { _id: 0, source: 1, seq: 1, timestamp: 1, randomValue: 1, hashValue: 1 } as const;

/**
 * Applies the nesting rule with its state in the database: the tail of a source (its last stored
 * record, and the document holding it) is read from the source's latest document before each
 * batch, so a restart or a standby replica continues exactly where the stream stopped.
 *
 * Each batch becomes one ordered bulk write: first the records appended to the tail document, then
 * the new documents in seq order. Ordered means a crash leaves a prefix applied, and the tail read
 * on redelivery reflects exactly that prefix: records at or below it are skipped, the rest are
 * written. Appends are guarded (`nestedRecords.seq` must not already hold the first appended seq)
 * and new documents are upserts of deterministic ids, so repeating a write changes nothing.
 */
@Injectable()
export class MongoRecordStore implements RecordStore, OnModuleInit {
  readonly sink = 'mongodb';

  constructor(
    @InjectModel(DATA_DOCUMENT_MODEL) private readonly documents: Model<DataDocument>,
    @InjectConnection() private readonly connection: Connection,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.documents.createIndexes();
  }

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
      await this.writeInOrder(operations);
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
   * One ordered bulk write, straight to the driver (the records are validated already). A new
   * document whose id exists was written by an earlier, interrupted attempt: ordered execution
   * stops there, so the rest is written from the next operation on. (An upsert with
   * `$setOnInsert` would avoid the error, but FerretDB drops empty arrays from it, and every
   * document must carry `nestedRecords`, empty or not.)
   */
  private async writeInOrder(operations: mongo.AnyBulkWriteOperation<DataDocument>[]): Promise<void> {
    let from = 0;
    while (from < operations.length) {
      try {
        await this.collection.bulkWrite(operations.slice(from), { ordered: true });
        return;
      } catch (error) {
        const failed = duplicateKeyIndex(error);
        if (failed === undefined) throw error;
        from += failed + 1;
      }
    }
  }

  /** The model's driver collection, typed with our document (Mongoose types it as `Document`). */
  private get collection(): mongo.Collection<DataDocument> {
    return this.documents.collection as unknown as mongo.Collection<DataDocument>;
  }

  private async tail(source: string): Promise<NestingTail | undefined> {
    const latest = await this.documents
      .findOne({ source }, { ...RECORD_PROJECTION, nestedRecords: 1 })
      .sort({ seq: -1 })
      .lean<Pick<DataDocument, 'seq' | 'hashValue' | 'nestedRecords'>>()
      .exec();
    if (!latest) return undefined;
    const nested = latest.nestedRecords ?? [];
    const last = nested[nested.length - 1] ?? latest;
    return { lastSeq: last.seq, lastHash: last.hashValue, headSeq: latest.seq };
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

/** Index of the operation an ordered bulk write stopped at, if it stopped on a duplicate id. */
function duplicateKeyIndex(error: unknown): number | undefined {
  const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
  const list = Array.isArray(writeErrors) ? (writeErrors as Array<{ code?: number; index?: number }>) : [];
  const first = list[0];
  return list.length === 1 && first?.code === 11000 && typeof first.index === 'number' ? first.index : undefined;
}
