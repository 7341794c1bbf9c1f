import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { SpanKind, trace } from '@opentelemetry/api';
import type { DataRecord } from '@dataflow/contracts';
import { Timed } from '@dataflow/observability/instrumentation';
import { Traced } from '@dataflow/observability/tracing';
import type { RecordsContext } from '../transport/records-context';
import { RecordsHandler } from './records-handler.decorator';
import { RecordWriter } from './record-writer';

/** A writer's record messages, decoded and validated by the transport, handed to its RecordWriter. */
@Controller()
export class RecordsConsumer {
  constructor(private readonly writer: RecordWriter) {}

  /**
   * A message's span and its `records.handle` time cover its handling up to its settlement
   * (AcknowledgeInterceptor acknowledges inside them): how long a message is held.
   */
  @RecordsHandler()
  @Traced('records process', { kind: SpanKind.CONSUMER })
  @Timed('records.handle')
  onRecords(@Payload() records: DataRecord[], @Ctx() context: RecordsContext): Promise<void> {
    trace
      .getActiveSpan()
      ?.setAttributes({ 'dataflow.records': records.length, 'messaging.destination.name': context.queue });
    return this.writer.write(records, context.session, context.index, context.replayed);
  }
}
