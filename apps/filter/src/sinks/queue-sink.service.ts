import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { DataRecord } from '@dataflow/contracts';
import { RecordsRmqClient } from '@dataflow/messaging';
import { describeError, injectTraceContext, Timed } from '@dataflow/observability';
import { Resilient } from '@dataflow/resilience';

export const RABBITMQ_POLICY = 'rabbitmq';

/**
 * Hands records to RabbitMQ: one persistent message per batch of one source, resolved on the
 * broker's confirm. Remembers the highest `seq` confirmed per source, so a resent record is
 * acknowledged again without being published twice (after a filter restart this memory is gone
 * and a resend may be published again; the writers drop such duplicates by `seq`).
 */
@Injectable()
export class QueueSink implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(QueueSink.name);
  private readonly handedOn = new Map<string, number>();

  constructor(private readonly client: RecordsRmqClient) {}

  onApplicationBootstrap(): void {
    // Connect (and declare the topology) now rather than on the first record; failures are retried
    // by the connection manager and surface in readiness meanwhile.
    this.client
      .connect()
      .catch((error: unknown) => this.logger.warn(`RabbitMQ not reachable yet: ${describeError(error)}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }

  get connected(): boolean {
    return this.client.isConnected();
  }

  lastHandedOn(source: string): number {
    return this.handedOn.get(source) ?? 0;
  }

  async publish(source: string, records: readonly DataRecord[]): Promise<void> {
    const last = records[records.length - 1];
    if (!last) return;
    await this.confirmedPublish(records);
    this.handedOn.set(source, Math.max(last.seq, this.lastHandedOn(source)));
  }

  /** One message, confirmed by the broker; the breaker counts failures and fails fast while open. */
  @Resilient(RABBITMQ_POLICY)
  @Timed('rabbitmq.publish', { sink: 'rabbitmq' })
  private confirmedPublish(records: readonly DataRecord[]): Promise<void> {
    // The hand-off's trace context travels in the message headers to the writers.
    return this.client.publishRecords(records, injectTraceContext());
  }
}
