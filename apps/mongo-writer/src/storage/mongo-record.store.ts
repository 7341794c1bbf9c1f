import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectConnection, InjectModel } from '@nestjs/mongoose';
import type { Connection, Model, mongo } from 'mongoose';
import type { DataRecord } from '@dataflow/contracts';
import type { RecordStore, StoreContext, StoreOutcome } from '@dataflow/messaging';
import { DataflowMetrics } from '@dataflow/observability';
import { Counted, Timed } from '@dataflow/observability/instrumentation';
import { Resilient } from '@dataflow/resilience';
import { DATA_DOCUMENT_MODEL, DataDocument } from './data-document.schema';
import { MongoNestingDocuments, TAILS_COLLECTION, type TailHint } from './mongo-nesting.documents';
import { MONGODB_POLICY } from './mongodb.policy';
import { NestingWriter } from './nesting-writer';

/** Sources of one batch written at the same time (FerretDB works on several statements in parallel). */
const PARALLEL_SOURCES = 4;
/** Re-plans after another writer's write before the batch fails and is retried by the policy. */
const MAX_CONFLICTS = 5;

/**
 * The mongo-writer's store: the nesting rule applied by {@link NestingWriter} (see there for why
 * it stays exact without transactions) on the MongoDB collections of the writer's connection.
 */
@Injectable()
export class MongoRecordStore implements RecordStore, OnModuleInit {
  readonly sink = 'mongodb';
  private readonly logger = new Logger(MongoRecordStore.name);
  private readonly writer: NestingWriter;

  constructor(
    @InjectModel(DATA_DOCUMENT_MODEL) private readonly documents: Model<DataDocument>,
    @InjectConnection() private readonly connection: Connection,
    metrics: DataflowMetrics,
  ) {
    // Mongoose types the driver collection as `Document`; ours holds DataDocument.
    const collection = documents.collection as unknown as mongo.Collection<DataDocument>;
    const hints = documents.db.collection<TailHint>(TAILS_COLLECTION);
    this.writer = new NestingWriter(new MongoNestingDocuments(collection, hints), {
      parallelSources: PARALLEL_SOURCES,
      maxConflicts: MAX_CONFLICTS,
      onConflict: (source) => {
        metrics.retried('mongodb.conflict');
        this.logger.warn(`${source} was written by another writer meanwhile; reading its tail again`);
      },
      onLate: (source, late) =>
        this.logger.warn(
          `stored ${late.length} late records of ${source} (seqs ${late[0]?.seq}..${late.at(-1)?.seq}) as documents of their own: they arrived after later records, so they are not nested`,
        ),
    });
    metrics.retried('mongodb.conflict', 0); // the series exists from the start
  }

  async onModuleInit(): Promise<void> {
    await this.documents.createIndexes();
  }

  /** Transient failures are retried with backoff until they succeed, counted by the breaker. */
  @Counted('mongodb.store')
  @Resilient(MONGODB_POLICY)
  @Timed('mongodb.store', { sink: 'mongodb' })
  store(records: DataRecord[], context: StoreContext, signal?: AbortSignal): Promise<StoreOutcome> {
    return this.writer.write(records, context, signal);
  }

  /** A new consumer session: another writer may have been active, so tails are read again. */
  sessionStarted(): void {
    this.writer.forget();
  }

  /** Mongo errors are about the server or the connection, never about our validated records. */
  isPermanent(): boolean {
    return false;
  }

  async ping(): Promise<void> {
    await this.connection.db?.admin().ping();
  }
}
