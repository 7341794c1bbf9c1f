import { context, ROOT_CONTEXT, SpanStatusCode, type Context, type Link } from '@opentelemetry/api';
import { contextWith, linkTo, startSpan } from '@dataflow/observability/tracing';
import type { DataRecord } from '@dataflow/contracts';

/** Under load a write takes up to this many batches' worth of records that arrived during the last one. */
const MAX_BATCHES_PER_WRITE = 5;

export interface DeliveryBatcherOptions {
  /** A batch is written as soon as it holds this many records (and nothing is being written). */
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
  private inFlight = false;

  constructor(private readonly options: DeliveryBatcherOptions) {}

  /** Resolves once `records` are committed; rejects if they can never be. */
  add(records: DataRecord[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) =>
      this.pending.push({ records, context: context.active(), resolve, reject }),
    );
    this.pendingRecords += records.length;
    this.schedule();
    return done;
  }

  /** Writes everything pending; resolves when it (and every earlier write) has settled. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight || this.pending.length > 0) {
      if (!this.inFlight) this.startWrite();
      await this.writing;
    }
  }

  /**
   * Batches adapt to the load: while a write is in flight nothing is cut, and when it ends the next
   * write takes what arrived meanwhile (up to {@link maxRecords}) at once. So at low rates a record
   * waits at most `batchMs`, and under load batches grow with the store's latency instead of many
   * small writes queueing behind each other.
   */
  private schedule(): void {
    if (this.inFlight) return;
    if (this.pendingRecords >= this.options.batchSize) {
      this.startWrite();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (!this.inFlight && this.pending.length > 0) this.startWrite();
      }, this.options.batchMs);
    }
  }

  /** The most records one write takes (whole messages; a single larger message is written alone). */
  private get maxRecords(): number {
    return this.options.batchSize * MAX_BATCHES_PER_WRITE;
  }

  private startWrite(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch: Entry[] = [];
    let records = 0;
    while (this.pending.length > 0) {
      const next = this.pending[0] as Entry;
      if (batch.length > 0 && records + next.records.length > this.maxRecords) break;
      this.pending.shift();
      batch.push(next);
      records += next.records.length;
    }
    this.pendingRecords -= records;
    this.inFlight = true;
    this.writing = this.write(batch).finally(() => {
      this.inFlight = false;
      // What arrived during the write has waited at least that long already: write it now.
      if (this.pending.length > 0) this.startWrite();
    });
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
