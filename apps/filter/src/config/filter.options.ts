import { Global, Module, type Provider } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ADMIN_OPTIONS, type AdminOptions } from '../admin/admin.options';
import { INGEST_OPTIONS, type IngestOptions } from '../ingest/ingest.options';
import { PIPELINE_OPTIONS, type PipelineOptions } from '../pipeline/pipeline.options';
import { RULES_OPTIONS, type RulesOptions } from '../routing/rules.options';
import { REFUSAL_LOG_OPTIONS, type RefusalLogOptions } from '../refusals/refusal-log';
import { FILE_SINK_OPTIONS, type FileSinkOptions } from '../sinks/file-sink.options';
import { QUEUE_SINK_OPTIONS, type QueueSinkOptions } from '../sinks/queue-sink.options';
import { TAIL_OPTIONS, type TailOptions } from '../tail/tail.options';
import type { FilterConfig } from './filter.config';

type Config = ConfigService<FilterConfig, true>;

/** One option set from the validated configuration, under its feature's token. */
function options<T>(token: symbol, build: (config: Config) => T): Provider {
  return { provide: token, inject: [ConfigService], useFactory: build };
}

/**
 * The only place the filter's features meet its configuration: each feature declares the options
 * it needs (its `*.options.ts`) and gets exactly those, never the whole ConfigService.
 */
const filterOptionProviders: Provider[] = [
  options(INGEST_OPTIONS, (c): IngestOptions => ({
    token: c.get('INGEST_TOKEN', { infer: true }),
    maxConnections: c.get('INGEST_MAX_CONNECTIONS', { infer: true }),
    maxNewConnectionsPerSecond: c.get('INGEST_MAX_NEW_CONNECTIONS_PER_SECOND', { infer: true }),
    maxDepth: c.get('INGEST_MAX_JSON_DEPTH', { infer: true }),
    limits: {
      maxRecordsPerSecond: c.get('INGEST_MAX_RECORDS_PER_SECOND', { infer: true }),
      maxBytesPerSecond: c.get('INGEST_MAX_BYTES_PER_SECOND', { infer: true }),
      maxFramesPerSecond: c.get('INGEST_MAX_FRAMES_PER_SECOND', { infer: true }),
      maxSendBufferBytes: c.get('INGEST_MAX_SEND_BUFFER_BYTES', { infer: true }),
      maxPendingRecords: c.get('INGEST_MAX_PENDING_RECORDS', { infer: true }),
    },
    idleTimeoutMs: c.get('INGEST_IDLE_TIMEOUT_MS', { infer: true }),
    abusePenaltyMs: c.get('INGEST_ABUSE_PENALTY_MS', { infer: true }),
  })),
  options(REFUSAL_LOG_OPTIONS, (c): RefusalLogOptions => ({
    linesPerSecond: c.get('INGEST_REFUSAL_LOGS_PER_SECOND', { infer: true }),
  })),
  options(QUEUE_SINK_OPTIONS, (c): QueueSinkOptions => ({
    url: c.get('RABBITMQ_URL', { infer: true }),
    publishTimeoutMs: c.get('FILTER_PUBLISH_TIMEOUT_MS', { infer: true }),
    partitions: c.get('RECORD_PARTITIONS', { infer: true }),
  })),
  options(RULES_OPTIONS, (c): RulesOptions => ({
    file: c.get('FILTER_RULES_FILE', { infer: true }),
    threshold: c.get('FILTER_THRESHOLD', { infer: true }),
    pollMs: c.get('FILTER_RULES_POLL_MS', { infer: true }),
  })),
  options(PIPELINE_OPTIONS, (c): PipelineOptions => ({
    maxBatch: c.get('FILTER_MAX_BATCH', { infer: true }),
    maxSources: c.get('FILTER_MAX_SOURCES', { infer: true }),
    sourceIdleMs: c.get('FILTER_SOURCE_IDLE_MS', { infer: true }),
    shutdownTimeoutMs: c.get('SHUTDOWN_TIMEOUT_SECONDS', { infer: true }) * 1000,
  })),
  options(FILE_SINK_OPTIONS, (c): FileSinkOptions => ({
    dir: c.get('FILTER_OUTPUT_DIR', { infer: true }),
    flushIntervalMs: c.get('FILTER_FLUSH_INTERVAL_MS', { infer: true }),
    flushBytes: c.get('FILTER_FLUSH_BYTES', { infer: true }),
    fsync: c.get('FILTER_FSYNC', { infer: true }),
  })),
  options(TAIL_OPTIONS, (c): TailOptions => ({ maxClients: c.get('FILTER_TAIL_MAX_CLIENTS', { infer: true }) })),
  options(ADMIN_OPTIONS, (c): AdminOptions => ({ token: c.get('FILTER_ADMIN_TOKEN', { infer: true }) })),
];

/** The filter's option sets, for every module of the app (global, like the configuration they come from). */
@Global()
@Module({
  providers: filterOptionProviders,
  exports: [
    INGEST_OPTIONS,
    REFUSAL_LOG_OPTIONS,
    QUEUE_SINK_OPTIONS,
    RULES_OPTIONS,
    PIPELINE_OPTIONS,
    FILE_SINK_OPTIONS,
    TAIL_OPTIONS,
    ADMIN_OPTIONS,
  ],
})
export class FilterOptionsModule {}
