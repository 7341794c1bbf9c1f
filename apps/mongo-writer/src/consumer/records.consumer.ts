import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { DataRecord } from '@dataflow/contracts';
import { RecordsHandler } from '@dataflow/messaging';
import { MongoWriter } from './mongo-writer.service';

/** Record messages of this writer's queue, decoded and validated by the transport. */
@Controller()
export class RecordsConsumer {
  constructor(private readonly writer: MongoWriter) {}

  @RecordsHandler()
  onRecords(@Payload() records: DataRecord[]): Promise<void> {
    return this.writer.write(records);
  }
}
