import { context, ROOT_CONTEXT, SpanStatusCode, type Context, type Link } from '@opentelemetry/api';
import { contextWith, linkTo, startSpan } from '@dataflow/observability/tracing';
import type { DataRecord } from '@dataflow/contracts';

export interface DeliveryBatcherOptions {
  /** Records per write; a batch is written as soon as it holds this many. */
  readonly batchSize: number;
  /** A partly filled batch is written after this long. */
  readonly batchMs: number;
  /** Stores records idempotently (repeats allowed), under the sink's policy. */
  readonly store: (records: DataRecord[]) => Promise<void>;
  /** True for an error no retry can fix (the data itself is refused). */
  readonly isPermanent: (error: unknown) => boolean;
}

/** The store refused these records for good: their message belongs in the dead-letter queue. */
export class PermanentStoreError extends Error {
  override readonly name = 'PermanentStoreError';
}

interface Entry {
  readonly records: DataRecord[];
  /** The trace context of the message the records came from. */
  readonly context: Context;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Collects the records of many messages into batches by count and by time and writes each batch
 * once; every message's promise settles when the batch holding it has committed. Writes are
 * serialised; while one is retried (the database is down) further messages wait, bounded by the
 * prefetch window. A batch refused permanently is split per message, so only the message that can
 * never be stored fails (with {@link PermanentStoreError}) and the rest are stored.
 */
export class DeliveryBatcher {
  private pending: Entry[] = [];
  private pendingRecords = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: DeliveryBatcherOptions) {}

  /** Resolves once `records` are committed; rejects if they can never be. */
  add(records: DataRecord[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) =>
      this.pending.push({ records, context: context.active(), resolve, reject }),
    );
    this.pendingRecords += records.length;
    if (this.pendingRecords >= this.options.batchSize) {
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.options.batchMs);
    }
    return done;
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

  /**
   * One write for the records of many messages: its span belongs to the first message's trace and
   * links the others, so every message's trace leads to the write that stored it.
   */
  private async write(batch: Entry[]): Promise<void> {
    const [first, ...others] = batch;
    const links = others.map((entry) => linkTo(entry.context)).filter((link): link is Link => link !== undefined);
    const parent = first?.context ?? ROOT_CONTEXT;
    const span = startSpan('records store', { links }, parent);
    span.setAttribute('dataflow.messages', batch.length);
    await context.with(contextWith(span, parent), async () => {
      try {
        await this.options.store(batch.flatMap((entry) => entry.records));
        for (const entry of batch) entry.resolve();
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: asError(error).message });
        if (this.options.isPermanent(error)) await this.isolate(batch);
        else for (const entry of batch) entry.reject(asError(error));
      } finally {
        span.end();
      }
    });
  }

  private async isolate(batch: Entry[]): Promise<void> {
    for (const entry of batch) {
      try {
        await this.options.store(entry.records);
        entry.resolve();
      } catch (error) {
        entry.reject(
          this.options.isPermanent(error) ? new PermanentStoreError(asError(error).message) : asError(error),
        );
      }
    }
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error('unknown error');
}
