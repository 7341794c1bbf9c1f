import { context, type Context } from '@opentelemetry/api';
import type { DataRecord } from '@dataflow/contracts';

/** What the batcher tells the store about a batch besides its records (see RecordStore). */
export interface BatchContext {
  /** Some message of the batch is a replayed dead letter. */
  readonly replayed: boolean;
  /** The trace contexts of the batch's messages, in order (the store's span follows the first, links the rest). */
  readonly traces: readonly Context[];
}

/** Under load a write takes up to this many batches' worth of records that arrived during the last one. */
const MAX_BATCHES_PER_WRITE = 5;

export interface DeliveryBatcherOptions {
  /** A batch is written as soon as it holds this many records (and nothing is being written). */
  readonly batchSize: number;
  /** A partly filled batch is written after this long. */
  readonly batchMs: number;
  /**
   * Stores records idempotently (repeats allowed), under the sink's policy; `signal` fires when the
   * messages' consumer session ended (stop retrying: they are back in the queue).
   */
  readonly store: (records: DataRecord[], context: BatchContext, signal?: AbortSignal) => Promise<void>;
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
  /** Fires when the message's consumer session ends: the message is back in the queue. */
  readonly signal: AbortSignal | undefined;
  /** The message is a replayed dead letter. */
  readonly replayed: boolean;
  resolve(): void;
  reject(error: unknown): void;
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
  private readonly watched = new WeakSet<AbortSignal>();
  /** Sessions with a failed write: nothing more of them is written (see fail). */
  private readonly failed = new WeakSet<AbortSignal>();

  constructor(private readonly options: DeliveryBatcherOptions) {}

  /** Resolves once `records` are committed; rejects if they can never be, or `signal` fires first. */
  add(records: DataRecord[], signal?: AbortSignal, replayed = false): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (signal && this.failed.has(signal)) {
      return Promise.reject(new Error('an earlier write of this consumer session failed; the message is redelivered'));
    }
    const done = new Promise<void>((resolve, reject) =>
      this.pending.push({ records, context: context.active(), signal, replayed, resolve, reject }),
    );
    this.pendingRecords += records.length;
    if (signal) this.watch(signal);
    this.schedule();
    return done;
  }

  /** Records waiting for a write (not counting the write in progress). */
  get waiting(): number {
    return this.pendingRecords;
  }

  private watch(signal: AbortSignal): void {
    if (this.watched.has(signal)) return;
    this.watched.add(signal);
    signal.addEventListener('abort', () => this.abandon(signal), { once: true });
  }

  /**
   * A write failed for good (its policy gave up): nothing delivered after it in the same session may
   * be written before it, so the batch and everything pending of its session fail with it. The
   * caller hands them all back to the queue in order (a new session redelivers them).
   */
  private fail(batch: Entry[], signal: AbortSignal | undefined, error: Error): void {
    if (signal) this.failed.add(signal);
    for (const entry of batch) entry.reject(error);
    const kept: Entry[] = [];
    for (const entry of this.pending) {
      if (entry.signal !== signal) kept.push(entry);
      else {
        this.pendingRecords -= entry.records.length;
        entry.reject(error);
      }
    }
    this.pending = kept;
  }

  /** The session of `signal` ended: its pending messages are back in the queue, unwritten. */
  private abandon(signal: AbortSignal): void {
    const kept: Entry[] = [];
    for (const entry of this.pending) {
      if (entry.signal !== signal) kept.push(entry);
      else {
        this.pendingRecords -= entry.records.length;
        entry.reject(signal.reason);
      }
    }
    this.pending = kept;
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
      if (batch.length > 0 && next.signal !== batch[0]?.signal) break;
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

  /** One write for the records of many messages. */
  private async write(batch: Entry[]): Promise<void> {
    const signal = batch[0]?.signal;
    const ended = whenAborted(signal);
    try {
      const storing = this.options.store(
        batch.flatMap((entry) => entry.records),
        { replayed: batch.some((entry) => entry.replayed), traces: batch.map((entry) => entry.context) },
        signal,
      );
      // A write abandoned below may still settle later: its outcome no longer matters.
      storing.catch(() => undefined);
      const outcome = await Promise.race([storing.then(() => 'stored' as const), ended.promise]);
      if (outcome === 'ended') throw signal?.reason;
      for (const entry of batch) entry.resolve();
    } catch (error) {
      if (signal?.aborted) for (const entry of batch) entry.reject(signal.reason);
      else if (this.options.isPermanent(error)) await this.isolate(batch);
      else this.fail(batch, signal, asError(error));
    } finally {
      ended.dispose();
    }
  }

  /**
   * Stores a refused batch message by message, in order: the message refused for good is
   * dead-lettered by its handler, the others are stored. A transient failure on the way fails the
   * rest (nothing may be stored past it).
   */
  private async isolate(batch: Entry[]): Promise<void> {
    for (const [index, entry] of batch.entries()) {
      try {
        entry.signal?.throwIfAborted();
        await this.options.store(entry.records, { replayed: entry.replayed, traces: [entry.context] }, entry.signal);
        entry.resolve();
      } catch (error) {
        if (entry.signal?.aborted) {
          for (const rest of batch.slice(index)) rest.reject(entry.signal.reason);
          return;
        }
        if (!this.options.isPermanent(error)) {
          this.fail(batch.slice(index), entry.signal, asError(error));
          return;
        }
        entry.reject(new PermanentStoreError(asError(error).message));
      }
    }
  }
}

/** A promise that resolves with 'ended' when `signal` fires; dispose() removes its listener. */
function whenAborted(signal: AbortSignal | undefined): { promise: Promise<'ended'>; dispose(): void } {
  if (!signal) return { promise: new Promise<'ended'>(() => undefined), dispose: () => undefined };
  let listener: () => void = () => undefined;
  const promise = new Promise<'ended'>((resolve) => {
    listener = () => resolve('ended');
    if (signal.aborted) resolve('ended');
    else signal.addEventListener('abort', listener, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', listener) };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error('unknown error');
}
