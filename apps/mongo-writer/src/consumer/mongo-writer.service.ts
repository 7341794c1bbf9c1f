import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { DataRecord } from '@dataflow/contracts';
import { RecordsRmqServer, RecordWriter } from '@dataflow/messaging';
import { DataflowMetrics } from '@dataflow/observability';
import { PolicyRegistry } from '@dataflow/resilience';
import { MONGODB_POLICY } from '../storage/mongodb.policy';
import type { MongoWriterConfig } from '../config/mongo-writer.config';
import { MongoRecordStore } from '../storage/mongo-record.store';

@Injectable()
export class MongoWriter implements BeforeApplicationShutdown {
  private readonly writer: RecordWriter;

  constructor(
    @Inject(ConfigService) config: ConfigService<MongoWriterConfig, true>,
    server: RecordsRmqServer,
    registry: PolicyRegistry,
    store: MongoRecordStore,
    metrics: DataflowMetrics,
  ) {
    this.writer = new RecordWriter(server, registry.get(MONGODB_POLICY), store, metrics, {
      batchSize: config.get('MONGO_WRITER_BATCH_SIZE', { infer: true }),
      batchMs: config.get('MONGO_WRITER_BATCH_MS', { infer: true }),
      shutdownTimeoutMs: config.get('SHUTDOWN_TIMEOUT_SECONDS', { infer: true }) * 1000,
    });
  }

  /** Resolves when the records are committed (see RecordWriter). */
  write(records: DataRecord[]): Promise<void> {
    return this.writer.write(records);
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.writer.shutdown();
  }
}
