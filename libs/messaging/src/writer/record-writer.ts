import { Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { CircuitState } from 'cockatiel';
import type { DataRecord } from '@dataflow/contracts';
import { trace } from '@opentelemetry/api';
import { Traced, type DataflowMetrics } from '@dataflow/observability';
import type { NamedPolicy } from '@dataflow/resilience';
import { isCancellation } from '@dataflow/observability/cancellation';
import type { ConsumerSession } from '../transport/consumer-session';
import { DeliveryBatcher, PermanentStoreError, type BatchContext } from './delivery-batcher';
import type { RecordsRmqServer } from '../transport/records-rmq.server';
import { CommitLog } from './commit-log';

/** What a store did with a batch: inserted rows/documents, and records it already had. */
export interface StoreOutcome {
  readonly stored: number;
  readonly duplicates: number;
}

/** What a store is told about a batch besides its records. */
export interface StoreContext {
  /**
   * Some of the records come from a dead letter published again (`dataflow dlq replay`): they may
   * have arrived after later records of their source, so a record at or below what is stored is not
   * necessarily a redelivered duplicate.
   */
  readonly replayed: boolean;
  /** The queue (partition) the records came from: one partition's sources are disjoint from another's. */
  readonly queue: string;
}

/** A sink's storage: idempotent on (`source`, `seq`), one statement or bulk write per call. */
export interface RecordStore {
  /** Label of the sink in metrics and logs (`postgres`, `mongodb`). */
  readonly sink: string;
  /** Stores `records`; `signal` fires when they went back to the queue (stop, do not retry). */
  store(records: DataRecord[], context: StoreContext, signal?: AbortSignal): Promise<StoreOutcome>;
  /** True for an error that no retry can fix: the data itself is refused. */
  isPermanent(error: unknown): boolean;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
  /**
   * A new consumer session starts: another writer may have written meanwhile, so anything the
   * store remembers about what is stored must be read again.
   */
  sessionStarted?(): void;
}

/** Pings of a database that is down: each gives up after PING_TIMEOUT_MS, the pauses between them grow to at most MAX_PING_INTERVAL_MS. */
const PING_TIMEOUT_MS = 2000;
const MAX_PING_INTERVAL_MS = 10_000;
/** A breaker that opens again this soon after a resume makes the next pause start twice as long. */
const QUICK_REOPEN_MS = 60_000;
/** Longest first pause after repeated quick reopens. */
const MAX_PAUSE_MS = 120_000;

/** A batch and the queue it came from. */
type QueueBatch = BatchContext & { readonly queue: string };

export interface RecordWriterOptions {
  /** Records per store call at most (`<PREFIX>_BATCH_SIZE`). */
  readonly batchSize: number;
  /** The longest a partly filled batch waits for more records (`<PREFIX>_BATCH_MS`). */
  readonly batchMs: number;
  /** On shutdown, how long the batches in hand may take to be written; the rest goes back to the broker. */
  readonly shutdownTimeoutMs: number;
  /** Where to log each write's commit time (`<PREFIX>_COMMIT_LOG`, see CommitLog); unset: nowhere. */
  readonly commitLog?: string;
}

/**
 * A writer's storing side, shared by db-writer and mongo-writer: batches the records of many
 * messages, stores them under the sink's policy (transient failures retried with backoff, the
 * breaker counting them), and settles each message's promise when its batch committed.
 * Acknowledging is the handler decorator's job (see `@RecordsHandler`).
 *
 * Order is kept whatever fails, by handing everything held back to the queue (the server ends its
 * consumer session; the broker returns the messages in order) rather than letting anything later
 * be stored first:
 * - a write that fails for good (its policy gives up): everything is handed back and consumed
 *   again at once;
 * - the breaker opens (the database is down): everything is handed back and consumption pauses,
 *   so another replica or the standby can take over, until the database answers a ping again. No
 *   message is held through an outage, so an outage of any length costs a delivery count of one
 *   and never runs into the broker's delivery acknowledgement timeout;
 * - shutdown: intake stops, the batches in hand are written (up to the shutdown timeout) and
 *   acknowledged, the rest is handed back.
 */
export class RecordWriter implements BeforeApplicationShutdown {
  private readonly logger = new Logger('RecordWriter');
  /** One per queue (partition): each partition's records are batched and written in its own order. */
  private readonly batchers = new Map<string, DeliveryBatcher>();
  private readonly commitLog: CommitLog | undefined;
  private paused = false;
  private stopping = false;
  private lastResume = 0;
  /** Pauses in a row that each began soon after the resume before them. */
  private quickReopens = 0;

  constructor(
    private readonly server: RecordsRmqServer,
    private readonly policy: NamedPolicy,
    private readonly target: RecordStore,
    private readonly metrics: DataflowMetrics,
    private readonly options: RecordWriterOptions,
  ) {
    this.commitLog = options.commitLog ? new CommitLog(options.commitLog) : undefined;
    // A server with no queue (the filter's file writer when unpartitioned) never writes; its store's
    // breaker belongs to someone else then, and pausing would ping it closed.
    if (server.queues.length > 0) {
      this.policy.breaker?.onStateChange((state) => {
        if (state === CircuitState.Open) void this.pauseUntilBack();
      });
    }
    this.server.onSession(() => this.target.sessionStarted?.());
  }

  /**
   * Resolves when `records` (delivery `index` of `session`) are committed; rejects with
   * PermanentStoreError if they never can be.
   */
  write(records: DataRecord[], session: ConsumerSession, index: number, replayed = false): Promise<void> {
    if (!session.reachesWriterInOrder(index)) {
      const error = new Error(
        `delivery ${index} of consumer session ${session.id} reached the writer after a later one`,
      );
      this.logger.error(`${error.message}: a bug in the path from the channel to the writer; consuming again`);
      void this.server.rewind(session, error.message);
      return Promise.reject(error);
    }
    const done = this.batcherOf(session.queue).add(records, session.signal, replayed);
    done.catch((error: unknown) => {
      if (error instanceof PermanentStoreError || isCancellation(error) || !session.open) return;
      void this.server.rewind(session, `a write failed: ${error instanceof Error ? error.message : String(error)}`);
    });
    return done;
  }

  /**
   * The batcher of a queue. Partitions hold disjoint sources, so their writes may run at once (as
   * many as this writer has active partitions); within a partition they are serialised, in order.
   */
  private batcherOf(queue: string): DeliveryBatcher {
    let batcher = this.batchers.get(queue);
    if (!batcher) {
      batcher = new DeliveryBatcher({
        batchSize: this.options.batchSize,
        batchMs: this.options.batchMs,
        // The store method carries its policy (`@Resilient`): transient failures are retried there.
        store: (records, context, signal) => this.store(records, { ...context, queue }, signal),
        isPermanent: (error) => this.target.isPermanent(error),
      });
      this.batchers.set(queue, batcher);
    }
    return batcher;
  }

  /** Stops intake, writes the batches in hand, then hands the rest back. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.server.drain();
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.options.shutdownTimeoutMs).unref());
    await Promise.race([Promise.all([...this.batchers.values()].map((batcher) => batcher.flush())), timeout]);
    // Let the acknowledgements of the last batch go out before the channel closes.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.server.stop();
    await this.commitLog?.close();
  }

  /**
   * One write for the records of many messages: its span belongs to the first message's trace and
   * links the others, so every message's trace leads to the write that stored it.
   */
  @Traced('records store', {
    parent: (_records: DataRecord[], batch: QueueBatch) => batch.traces[0],
    links: (_records: DataRecord[], batch: QueueBatch) => batch.traces.slice(1),
  })
  private async store(records: DataRecord[], batch: QueueBatch, signal?: AbortSignal): Promise<void> {
    trace.getActiveSpan()?.setAttribute('dataflow.messages', batch.traces.length);
    const outcome = await this.target.store(records, { replayed: batch.replayed, queue: batch.queue }, signal);
    this.commitLog?.committed(records);
    this.metrics.recordsProcessed('store', 'stored', outcome.stored);
    this.metrics.recordsProcessed('store', 'duplicate', outcome.duplicates);
    this.metrics.storedRecords(
      this.target.sink,
      records.map((r) => r.timestamp),
    );
  }

  /**
   * Hands everything back and pings until the database answers. Each hand-back costs the held
   * messages one delivery count; a database that answers pings but keeps failing writes (it reopens
   * the breaker soon after each resume) gets longer and longer pauses, so it cannot run a message
   * into the delivery limit within minutes.
   */
  private async pauseUntilBack(): Promise<void> {
    if (this.paused || this.stopping) return;
    this.paused = true;
    this.quickReopens = Date.now() - this.lastResume < QUICK_REOPEN_MS ? this.quickReopens + 1 : 0;
    await this.server.suspend(`${this.target.sink} unavailable (breaker open)`);
    const halfOpenMs = this.policy.options.breaker?.halfOpenAfterMs ?? 1000;
    const first = Math.min(halfOpenMs * 2 ** this.quickReopens, MAX_PAUSE_MS);
    if (this.quickReopens > 0) {
      this.logger.warn(
        `${this.target.sink} failed again soon after consumption resumed (${this.quickReopens} times in a row): pausing ${Math.round(first / 1000)} s first`,
      );
    }
    await new Promise<void>((resolve) => setTimeout(resolve, first - halfOpenMs).unref());
    let interval = halfOpenMs;
    while (!this.stopping) {
      await new Promise<void>((resolve) => setTimeout(resolve, interval).unref());
      try {
        // Through the breaker: a ping that answers is its half-open trial and closes it, so a
        // replica that resumes as the standby (and so writes nothing) is not left open and unready.
        const ping = this.policy.breaker ? this.policy.breaker.execute(() => this.target.ping()) : this.target.ping();
        await withTimeout(ping, PING_TIMEOUT_MS);
        break;
      } catch (error) {
        this.logger.warn(
          `${this.target.sink} still unavailable (${error instanceof Error ? error.message : String(error)}); next try in ${Math.round(interval / 1000)} s`,
        );
        interval = Math.min(interval * 2, MAX_PING_INTERVAL_MS);
      }
    }
    this.paused = false;
    this.lastResume = Date.now();
    if (!this.stopping) this.server.resume();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
