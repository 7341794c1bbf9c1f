import { Logger } from '@nestjs/common';
import { CircuitState } from 'cockatiel';
import type { DataRecord } from '@dataflow/contracts';
import type { DataflowMetrics } from '@dataflow/observability';
import type { NamedPolicy } from '@dataflow/resilience';
import { DeliveryBatcher } from './delivery-batcher';
import type { RecordsDelivery, RecordsRmqServer } from './records-rmq.server';

/** What a store did with a batch: inserted rows/documents, and records it already had. */
export interface StoreOutcome {
  readonly stored: number;
  readonly duplicates: number;
}

/** A sink's storage: idempotent on (`source`, `seq`), one statement or bulk write per call. */
export interface RecordStore {
  /** Label of the sink in metrics and logs (`postgres`, `mongodb`). */
  readonly sink: string;
  store(records: DataRecord[]): Promise<StoreOutcome>;
  /** True for an error that no retry can fix: the data itself is refused. */
  isPermanent(error: unknown): boolean;
}

export interface RecordWriterOptions {
  readonly batchSize: number;
  readonly batchMs: number;
  readonly shutdownTimeoutMs: number;
}

/**
 * A writer's consuming side, shared by db-writer and mongo-writer: batches deliveries, stores them
 * under the sink's policy (transient failures retried with backoff, the breaker counting them),
 * acknowledges after commit, dead-letters what can never be stored, and stops taking messages
 * while the breaker is open (the consumer is cancelled, so another replica or the standby can take
 * over) until it closes again.
 */
export class RecordWriter {
  private readonly logger: Logger;
  private readonly batcher: DeliveryBatcher;

  constructor(
    private readonly server: RecordsRmqServer,
    private readonly policy: NamedPolicy,
    private readonly target: RecordStore,
    private readonly metrics: DataflowMetrics,
    private readonly options: RecordWriterOptions,
  ) {
    this.logger = new Logger(`${target.sink}-writer`);
    this.batcher = new DeliveryBatcher({
      batchSize: options.batchSize,
      batchMs: options.batchMs,
      store: (records) => this.store(records),
      protect: (work) => this.policy.execute(() => work()),
      isPermanent: (error) => this.target.isPermanent(error),
      deadLetter: (delivery, reason) => this.deadLetter(delivery, reason),
      logger: this.logger,
    });
    this.policy.breaker?.onStateChange((state) => {
      if (state === CircuitState.Open) void this.server.pause();
      else if (state === CircuitState.Closed) void this.server.resume();
    });
  }

  accept(delivery: RecordsDelivery): void {
    this.batcher.add(delivery);
  }

  /** Stops intake and finishes the batch in hand; anything unfinished is redelivered later. */
  async shutdown(): Promise<void> {
    await this.server.pause();
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.options.shutdownTimeoutMs).unref());
    await Promise.race([this.batcher.flush(), timeout]);
  }

  private async store(records: DataRecord[]): Promise<void> {
    const stopTimer = this.metrics.startSinkWrite(this.target.sink);
    const outcome = await this.target.store(records).finally(stopTimer);
    this.metrics.recordsProcessed('store', 'stored', outcome.stored);
    this.metrics.recordsProcessed('store', 'duplicate', outcome.duplicates);
    this.metrics.storedRecords(
      this.target.sink,
      records.map((r) => r.timestamp),
    );
  }

  private async deadLetter(delivery: RecordsDelivery, reason: string): Promise<void> {
    await this.server.deadLetter(delivery.message, delivery.channel, reason, 'store_refused');
    this.metrics.recordsProcessed('store', 'dead_lettered', delivery.records.length);
  }
}
