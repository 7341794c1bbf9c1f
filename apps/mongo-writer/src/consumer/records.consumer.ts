import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { DataRecord, RECORDS_PATTERN } from '@dataflow/contracts';
import { recordsDelivery } from '@dataflow/messaging';
import { MongoWriter } from './mongo-writer.service';

/** Messages of `dataflow.records.mongo`, already decoded and validated by the transport. */
@Controller()
export class RecordsConsumer {
  constructor(private readonly writer: MongoWriter) {}

  @EventPattern(RECORDS_PATTERN)
  onRecords(@Payload() records: DataRecord[], @Ctx() context: unknown): void {
    this.writer.accept(recordsDelivery(records, context));
  }
}
