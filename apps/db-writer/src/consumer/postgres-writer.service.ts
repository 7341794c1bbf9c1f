import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { DataRecord } from '@dataflow/contracts';
import { RecordsRmqServer, RecordWriter } from '@dataflow/messaging';
import { DataflowMetrics } from '@dataflow/observability';
import { PolicyRegistry } from '@dataflow/resilience';
import { POSTGRES_POLICY } from '../storage/postgres.policy';
import type { DbWriterConfig } from '../config/db-writer.config';
import { PostgresRecordStore } from '../storage/postgres-record.store';

@Injectable()
export class PostgresWriter implements BeforeApplicationShutdown {
  private readonly writer: RecordWriter;

  constructor(
    @Inject(ConfigService) config: ConfigService<DbWriterConfig, true>,
    server: RecordsRmqServer,
    registry: PolicyRegistry,
    store: PostgresRecordStore,
    metrics: DataflowMetrics,
  ) {
    this.writer = new RecordWriter(server, registry.get(POSTGRES_POLICY), store, metrics, {
      batchSize: config.get('DB_WRITER_BATCH_SIZE', { infer: true }),
      batchMs: config.get('DB_WRITER_BATCH_MS', { infer: true }),
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
