import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { DataRecord, RECORDS_PATTERN } from '@dataflow/contracts';
import { recordsDelivery } from '@dataflow/messaging';
import { PostgresWriter } from './postgres-writer.service';

/** Messages of `dataflow.records.postgres`, already decoded and validated by the transport. */
@Controller()
export class RecordsConsumer {
  constructor(private readonly writer: PostgresWriter) {}

  @EventPattern(RECORDS_PATTERN)
  onRecords(@Payload() records: DataRecord[], @Ctx() context: unknown): void {
    this.writer.accept(recordsDelivery(records, context));
  }
}
