import { Module } from '@nestjs/common';
import { FILE_PARTITION_EXCHANGE } from '@dataflow/contracts';
import { RecordsRmqClient } from '@dataflow/messaging';
import { BreakerProbes } from './breaker-probes';
import { FileLeg } from './file-leg';
import { FILE_SINK_OPTIONS, type FileSinkOptions } from './file-sink.options';
import { FileSink } from './file-sink.service';
import { PartitionedFileLeg } from './partitioned-file-leg';
import { QUEUE_SINK_OPTIONS, type QueueSinkOptions } from './queue-sink.options';
import { QueueSink } from './queue-sink.service';

/**
 * Where records go: the queue (RabbitMQ, publisher confirms) and the file sink: the buffered files
 * of this process when unpartitioned, the file sink's partitions on the broker when partitioned.
 */
@Module({
  providers: [
    {
      provide: RecordsRmqClient,
      inject: [QUEUE_SINK_OPTIONS],
      useFactory: (options: QueueSinkOptions) => new RecordsRmqClient(options),
    },
    QueueSink,
    {
      provide: FileLeg,
      inject: [QUEUE_SINK_OPTIONS, FILE_SINK_OPTIONS],
      useFactory: (queue: QueueSinkOptions, files: FileSinkOptions): FileLeg =>
        queue.partitions > 1
          ? new PartitionedFileLeg(new RecordsRmqClient({ ...queue, exchange: FILE_PARTITION_EXCHANGE }))
          : new FileSink(files),
    },
    BreakerProbes,
  ],
  exports: [QueueSink, FileLeg],
})
export class SinksModule {}
