import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { DataRecord } from '@dataflow/contracts';
import { RecordsRmqClient } from '@dataflow/messaging';
import { Counted, describeError, injectTraceContext, Timed } from '@dataflow/observability';
import { Resilient } from '@dataflow/resilience';
import { HeldSeqs } from './held-seqs';

export const RABBITMQ_POLICY = 'rabbitmq';

/**
 * Hands records to RabbitMQ: one persistent message per batch of one source, resolved on the
 * broker's confirm. Remembers what the broker confirmed above each source's floor, so a resend
 * after a hand-off that failed elsewhere is not published twice (after a filter restart this memory
 * is gone and such a resend is published again; the writers drop the repeats by `seq`).
 */
@Injectable()
export class QueueSink implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(this.constructor.name);
  protected readonly held = new HeldSeqs();

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
    return this.client.isReady();
  }

  /** Whether the broker confirmed this record (in this process's lifetime). */
  holds(source: string, seq: number): boolean {
    return this.held.holds(source, seq);
  }

  /** Nothing confirmed of `source` above its floor (it may leave memory). */
  isClean(source: string): boolean {
    return this.held.isClean(source);
  }

  forget(source: string): void {
    this.held.delete(source);
  }

  /** Everything of `source` up to `floor` is handed on everywhere: what was confirmed below is forgotten. */
  settled(source: string, floor: number): void {
    this.held.settle(source, floor);
  }

  async publish(source: string, records: readonly DataRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.confirmedPublish(records);
    this.held.add(
      source,
      records.map((r) => r.seq),
    );
  }

  /** One message, confirmed by the broker; the breaker counts failures and fails fast while open. */
  @Counted('rabbitmq.publish')
  @Resilient(RABBITMQ_POLICY)
  @Timed('rabbitmq.publish', { sink: 'rabbitmq' })
  private confirmedPublish(records: readonly DataRecord[]): Promise<void> {
    // The hand-off's trace context travels in the message headers to the writers.
    return this.client.publishRecords(records, injectTraceContext());
  }
}
