import type { BeforeApplicationShutdown } from '@nestjs/common';
import { CircuitState } from 'cockatiel';
import type { DataRecord } from '@dataflow/contracts';
import type { DataflowMetrics } from '@dataflow/observability';
import type { NamedPolicy } from '@dataflow/resilience';
import { DeliveryBatcher } from './delivery-batcher';
import type { RecordsRmqServer } from './records-rmq.server';

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
  /** Resolves when the database answers. */
  ping(): Promise<void>;
}

export interface RecordWriterOptions {
  readonly batchSize: number;
  readonly batchMs: number;
  readonly shutdownTimeoutMs: number;
}

/**
 * A writer's storing side, shared by db-writer and mongo-writer: batches the records of many
 * messages, stores them under the sink's policy (transient failures retried with backoff, the
 * breaker counting them), and settles each message's promise when its batch committed. While the
 * breaker is open the consumer is cancelled, so no new messages are taken (another replica or the
 * standby can take over), until it closes again. Acknowledging is the handler decorator's job
 * (see `@RecordsHandler`).
 */
export class RecordWriter implements BeforeApplicationShutdown {
  private readonly batcher: DeliveryBatcher;

  constructor(
    private readonly server: RecordsRmqServer,
    private readonly policy: NamedPolicy,
    private readonly target: RecordStore,
    private readonly metrics: DataflowMetrics,
    private readonly options: RecordWriterOptions,
  ) {
    this.batcher = new DeliveryBatcher({
      batchSize: options.batchSize,
      batchMs: options.batchMs,
      // The store method carries its policy (`@Resilient`): transient failures are retried there.
      store: (records) => this.store(records),
      isPermanent: (error) => this.target.isPermanent(error),
    });
    this.policy.breaker?.onStateChange((state) => {
      if (state === CircuitState.Open) void this.server.pause();
      else if (state === CircuitState.Closed) void this.server.resume();
    });
  }

  /** Resolves when `records` are committed; rejects with PermanentStoreError if they never can be. */
  write(records: DataRecord[]): Promise<void> {
    return this.batcher.add(records);
  }

  /** Stops intake and finishes the batch in hand; anything unfinished is redelivered later. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.server.pause();
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.options.shutdownTimeoutMs).unref());
    await Promise.race([this.batcher.flush(), timeout]);
  }

  private async store(records: DataRecord[]): Promise<void> {
    const outcome = await this.target.store(records);
    this.metrics.recordsProcessed('store', 'stored', outcome.stored);
    this.metrics.recordsProcessed('store', 'duplicate', outcome.duplicates);
    this.metrics.storedRecords(
      this.target.sink,
      records.map((r) => r.timestamp),
    );
  }
}
