import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { RECORDS_PATTERN } from '@dataflow/contracts';
import { AcknowledgeInterceptor } from './acknowledge.interceptor';

/**
 * Marks the handler of record messages: bound to the `records.high` pattern, acknowledged when the
 * promise it returns resolves, dead-lettered when it fails permanently, kept otherwise. The handler
 * receives the records already decoded and validated by RecordsRmqServer.
 */
export const RecordsHandler = (): MethodDecorator =>
  applyDecorators(EventPattern<string>(RECORDS_PATTERN, {}), UseInterceptors(AcknowledgeInterceptor));
