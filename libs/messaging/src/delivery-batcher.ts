import { Logger } from '@nestjs/common';
import type { DataRecord } from '@dataflow/contracts';
import type { RecordsDelivery } from './records-rmq.server';

export interface DeliveryBatcherOptions {
  /** Records per write; a batch is written as soon as it holds this many. */
  readonly batchSize: number;
  /** A partly filled batch is written after this long. */
  readonly batchMs: number;
  /** Stores records idempotently (repeats allowed), in one statement or bulk write. */
  readonly store: (records: DataRecord[]) => Promise<void>;
  /** Runs a store under the sink's resilience policy (retries transient failures). */
  readonly protect: <T>(work: () => Promise<T>) => Promise<T>;
  /** True for an error no retry can fix (the data itself is refused). */
  readonly isPermanent: (error: unknown) => boolean;
  /** Moves a delivery to the dead-letter queue with a reason. */
  readonly deadLetter: (delivery: RecordsDelivery, reason: string) => Promise<void>;
  readonly logger: Logger;
}

/**
 * Collects deliveries into batches by count and by time, writes each batch once, and acknowledges
 * its messages only after the write committed. Writes are serialised; while one is retried (the
 * database is down) further deliveries wait unacknowledged, bounded by the prefetch window. A batch
 * refused permanently is split per delivery, so only the message that can never be stored is
 * dead-lettered and the rest are stored.
 */
export class DeliveryBatcher {
  private pending: RecordsDelivery[] = [];
  private pendingRecords = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: DeliveryBatcherOptions) {}

  add(delivery: RecordsDelivery): void {
    this.pending.push(delivery);
    this.pendingRecords += delivery.records.length;
    if (this.pendingRecords >= this.options.batchSize) {
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.options.batchMs);
    }
  }

  /** Writes what is pending now; resolves when it (and every earlier batch) has settled. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    this.pendingRecords = 0;
    if (batch.length > 0) this.writing = this.writing.then(() => this.write(batch));
    return this.writing;
  }

  get waiting(): number {
    return this.pendingRecords;
  }

  private async write(batch: RecordsDelivery[]): Promise<void> {
    try {
      await this.options.protect(() => this.options.store(batch.flatMap((d) => d.records)));
      settle(batch, this.options.logger);
    } catch (error) {
      if (!this.options.isPermanent(error)) {
        // Only reachable when the policy gives up (shutdown): the messages stay unacknowledged and
        // the broker redelivers them.
        this.options.logger.error(`batch of ${batch.length} messages not stored: ${describe(error)}`);
        return;
      }
      await this.isolate(batch);
    }
  }

  private async isolate(batch: RecordsDelivery[]): Promise<void> {
    for (const delivery of batch) {
      try {
        await this.options.protect(() => this.options.store(delivery.records));
        settle([delivery], this.options.logger);
      } catch (error) {
        if (this.options.isPermanent(error)) {
          await this.options.deadLetter(delivery, `store_refused: ${describe(error)}`);
        } else {
          this.options.logger.error(`message not stored: ${describe(error)}`);
        }
      }
    }
  }
}

/** Acknowledges each message on its own channel; a closed channel means the broker redelivers it. */
function settle(batch: RecordsDelivery[], logger: Logger): void {
  for (const { channel, message } of batch) {
    try {
      channel.ack(message);
    } catch {
      logger.warn('could not acknowledge (channel closed); the broker will redeliver, and the write is idempotent');
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : 'unknown error';
}
