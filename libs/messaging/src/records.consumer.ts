import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import type { DataRecord } from '@dataflow/contracts';
import type { RecordsContext } from './records-context';
import { RecordsHandler } from './records-handler.decorator';
import { RecordWriter } from './record-writer';

/** A writer's record messages, decoded and validated by the transport, handed to its RecordWriter. */
@Controller()
export class RecordsConsumer {
  constructor(private readonly writer: RecordWriter) {}

  @RecordsHandler()
  onRecords(@Payload() records: DataRecord[], @Ctx() context: RecordsContext): Promise<void> {
    return this.writer.write(records, context.session, context.index, context.replayed);
  }
}
