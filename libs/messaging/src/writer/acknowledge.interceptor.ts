import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { from, lastValueFrom, Observable } from 'rxjs';
import type { DataRecord } from '@dataflow/contracts';
import { DataflowMetrics } from '@dataflow/observability';
import { isCancellation } from '@dataflow/observability';
import { PermanentStoreError } from './delivery-batcher';
import type { RecordsContext } from '../transport/records-context';
import { RecordsRmqServer } from '../transport/records-rmq.server';

/**
 * The acknowledgement rules of a message handler, applied around it (see `@RecordsHandler`):
 * - the handler's promise resolves → the message is acknowledged (its records are committed);
 * - it rejects with PermanentStoreError → the message is dead-lettered with the reason;
 * - anything else (its consumer session ended, a write failed for good) → the message is left
 *   unacknowledged: it went back to the queue with its session, in order, and is delivered again.
 *   RabbitMQ's delivery limit stops a message from looping forever.
 */
@Injectable()
export class AcknowledgeInterceptor implements NestInterceptor {
  private readonly logger = new Logger('acknowledge');

  constructor(
    private readonly server: RecordsRmqServer,
    private readonly metrics: DataflowMetrics,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const rmq = context.switchToRpc().getContext<RecordsContext>();
    const records = context.switchToRpc().getData<DataRecord[]>();
    return from(this.settle(lastValueFrom(next.handle(), { defaultValue: undefined }), rmq, records));
  }

  /** Runs in the message's span (`@Traced` on the handler), which ends once the message is settled. */
  private async settle(handled: Promise<unknown>, rmq: RecordsContext, records: readonly DataRecord[]): Promise<void> {
    try {
      await handled;
    } catch (error) {
      trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
      if (error instanceof PermanentStoreError) {
        await this.server.deadLetter(rmq.message, rmq.session, `store_refused: ${error.message}`, 'store_refused');
        this.metrics.recordsProcessed('store', 'dead_lettered', records.length);
      } else if (!isCancellation(error)) {
        this.logger.warn(
          `message left unacknowledged for redelivery: ${error instanceof Error ? error.message : 'unknown'}`,
        );
      }
      return;
    }
    if (rmq.session.ack(rmq.message)) {
      this.logger.debug(
        {
          source: records[0]?.source,
          firstSeq: records[0]?.seq,
          lastSeq: records.at(-1)?.seq,
          records: records.length,
        },
        'records stored and acknowledged',
      );
    } else {
      this.logger.debug('stored, but its consumer session had ended: redelivered, and the write is idempotent');
    }
  }
}
