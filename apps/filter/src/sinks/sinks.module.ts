import { Module } from '@nestjs/common';
import { RecordsRmqClient } from '@dataflow/messaging';
import { FileSink } from './file-sink.service';
import { QUEUE_SINK_OPTIONS, type QueueSinkOptions } from './queue-sink.options';
import { QueueSink } from './queue-sink.service';

/** Where records go: the queue (RabbitMQ, publisher confirms) and the buffered files. */
@Module({
  providers: [
    {
      provide: RecordsRmqClient,
      inject: [QUEUE_SINK_OPTIONS],
      useFactory: (options: QueueSinkOptions) => new RecordsRmqClient(options),
    },
    QueueSink,
    FileSink,
  ],
  exports: [QueueSink, FileSink],
})
export class SinksModule {}
