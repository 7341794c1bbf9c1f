import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { RmqContext } from '@nestjs/microservices';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { from, lastValueFrom, Observable } from 'rxjs';
import type { DataRecord } from '@dataflow/contracts';
import { DataflowMetrics } from '@dataflow/observability';
import { PermanentStoreError } from './delivery-batcher';
import { RecordsRmqServer } from './records-rmq.server';

/**
 * The acknowledgement rules of a message handler, applied around it (see `@RecordsHandler`):
 * - the handler's promise resolves → the message is acknowledged (its records are committed);
 * - it rejects with PermanentStoreError → the message is dead-lettered with the reason;
 * - anything else (a transient failure still unresolved at shutdown) → the message is left
 *   unacknowledged, so the broker redelivers it: it is never lost, and RabbitMQ's delivery limit
 *   stops it from looping forever.
 */
@Injectable()
export class AcknowledgeInterceptor implements NestInterceptor {
  private readonly logger = new Logger('acknowledge');

  constructor(
    private readonly server: RecordsRmqServer,
    private readonly metrics: DataflowMetrics,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const rmq = context.switchToRpc().getContext<RmqContext>();
    const message = rmq.getMessage() as ConsumeMessage;
    const channel = rmq.getChannelRef() as ConfirmChannel;
    const records = context.switchToRpc().getData<DataRecord[]>();
    return from(this.settle(lastValueFrom(next.handle(), { defaultValue: undefined }), message, channel, records));
  }

  /** Runs in the message's trace context (see RecordsRmqServer), whose span it ends. */
  private async settle(
    handled: Promise<unknown>,
    message: ConsumeMessage,
    channel: ConfirmChannel,
    records: readonly DataRecord[],
  ): Promise<void> {
    const span = trace.getActiveSpan();
    try {
      await this.settleMessage(handled, message, channel, records);
    } finally {
      span?.end();
    }
  }

  private async settleMessage(
    handled: Promise<unknown>,
    message: ConsumeMessage,
    channel: ConfirmChannel,
    records: readonly DataRecord[],
  ): Promise<void> {
    try {
      await handled;
    } catch (error) {
      trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
      if (error instanceof PermanentStoreError) {
        await this.server.deadLetter(message, channel, `store_refused: ${error.message}`, 'store_refused');
        this.metrics.recordsProcessed('store', 'dead_lettered');
      } else {
        this.logger.warn(
          `message left unacknowledged for redelivery: ${error instanceof Error ? error.message : 'unknown'}`,
        );
      }
      return;
    }
    try {
      channel.ack(message);
      this.logger.debug(
        {
          source: records[0]?.source,
          firstSeq: records[0]?.seq,
          lastSeq: records.at(-1)?.seq,
          records: records.length,
        },
        'records stored and acknowledged',
      );
    } catch {
      this.logger.warn('could not acknowledge (channel closed); the broker redelivers, and the write is idempotent');
    }
  }
}
