import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { DataRecord } from '@dataflow/contracts';
import { RecordsHandler } from '@dataflow/messaging';
import { PostgresWriter } from './postgres-writer.service';

/** Record messages of this writer's queue, decoded and validated by the transport. */
@Controller()
export class RecordsConsumer {
  constructor(private readonly writer: PostgresWriter) {}

  @RecordsHandler()
  onRecords(@Payload() records: DataRecord[]): Promise<void> {
    return this.writer.write(records);
  }
}
