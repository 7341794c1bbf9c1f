import { Module } from '@nestjs/common';
import {
  DEFAULT_MAX_HELD_RECORDS,
  prefetchFor,
  RecordsConsumer,
  writerProviders,
  type WriterSettings,
} from '@dataflow/messaging';
import { FILE_SINK_OPTIONS, type FileSinkOptions } from '../sinks/file-sink.options';
import { FILESYSTEM_POLICY } from '../sinks/file-sink.service';
import { QUEUE_SINK_OPTIONS, type QueueSinkOptions } from '../sinks/queue-sink.options';
import { PIPELINE_OPTIONS, type PipelineOptions } from '../pipeline/pipeline.options';
import { FileRecordStore } from './file-record.store';

/** Records per append at most; under load an append takes what arrived during the last one. */
const BATCH_SIZE = 1000;

/**
 * The file writer: with a partitioned topology, every filter replica consumes the file sink's
 * partitions (`dataflow.records.file.<p>`, single active consumer each) as the database writers
 * consume theirs, and appends them to `FILTER_OUTPUT_DIR/<p>` (see FileRecordStore). Unpartitioned,
 * the file sink has no queues: its server consumes nothing and never connects, and the filter
 * appends to its files itself (FileSink). Batches wait at most FILTER_FLUSH_INTERVAL_MS, as the
 * unpartitioned file buffer does; the prefetch is the writers' default. No ordinal: the filter is a
 * Deployment, and each partition's active consumer is the first replica to subscribe (the file leg
 * is light; see docs/scale-out.md).
 */
@Module({
  controllers: [RecordsConsumer],
  providers: writerProviders(
    FileRecordStore,
    (queue: QueueSinkOptions, files: FileSinkOptions, pipeline: PipelineOptions): WriterSettings => ({
      rabbitmqUrl: queue.url,
      sink: 'file',
      partitions: queue.partitions,
      prefetch: prefetchFor(DEFAULT_MAX_HELD_RECORDS, undefined),
      ordinal: undefined,
      replicas: 1,
      rebalanceMs: 0,
      policy: FILESYSTEM_POLICY,
      batchSize: BATCH_SIZE,
      batchMs: files.flushIntervalMs,
      shutdownTimeoutMs: pipeline.shutdownTimeoutMs,
    }),
    [QUEUE_SINK_OPTIONS, FILE_SINK_OPTIONS, PIPELINE_OPTIONS],
  ),
})
export class FileWriterModule {}
