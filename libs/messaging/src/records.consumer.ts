import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { DataRecord } from '@dataflow/contracts';
import { RecordsHandler } from './records-handler.decorator';
import { RecordWriter } from './record-writer';

/** A writer's record messages, decoded and validated by the transport, handed to its RecordWriter. */
@Controller()
export class RecordsConsumer {
  constructor(private readonly writer: RecordWriter) {}

  @RecordsHandler()
  onRecords(@Payload() records: DataRecord[]): Promise<void> {
    return this.writer.write(records);
  }
}
