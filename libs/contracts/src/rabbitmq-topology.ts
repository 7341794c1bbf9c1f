/**
 * RabbitMQ names and arguments of CONTRACT.md §5. Every app that touches the broker declares all of
 * it with exactly these arguments: RabbitMQ refuses a re-declaration whose arguments differ, and a
 * publish that happens before the queues are bound would be returned (we publish `mandatory`).
 */
export const RECORDS_EXCHANGE = 'dataflow.records';
export const DEAD_LETTER_EXCHANGE = 'dataflow.records.dlx';
export const POSTGRES_QUEUE = 'dataflow.records.postgres';
export const MONGO_QUEUE = 'dataflow.records.mongo';
export const POSTGRES_DLQ = 'dataflow.records.postgres.dlq';
export const MONGO_DLQ = 'dataflow.records.mongo.dlq';
/**
 * The file sink's leg through the broker, partitioned topology only (see {@link fileTopology}):
 * its partition queues are `dataflow.records.file.<p>`, behind an exchange of their own.
 */
export const FILE_QUEUE = 'dataflow.records.file';
export const FILE_DLQ = 'dataflow.records.file.dlq';
export const FILE_PARTITION_EXCHANGE = 'dataflow.records.file.partitions';

/** Nest RMQ event pattern of the record messages. */
export const RECORDS_PATTERN = 'records.high';

/**
 * Redeliveries before the broker dead-letters a message on its own. It is only the safety net: a
 * writer dead-letters poison explicitly (with a reason) on the first delivery, and holds messages
 * unacknowledged while a database is down rather than returning them, so a long outage does not
 * burn through the limit. Writer crashes do count, hence a generous value.
 */
export const DELIVERY_LIMIT = 20;

/** Header carrying why a writer dead-lettered a message. */
export const DEAD_LETTER_REASON_HEADER = 'x-dataflow-reason';
/** Header carrying the queue a dead-lettered message came from (used for replay). */
export const DEAD_LETTER_QUEUE_HEADER = 'x-dataflow-queue';
/**
 * Set on a dead letter published again (`dataflow dlq replay`): how many times it was replayed. Its
 * records may have arrived after later records of their source, so the mongo-writer checks which
 * of them are stored (see the README's MongoDB section).
 */
export const REPLAYED_HEADER = 'x-dataflow-replayed';

export interface QueueDeclaration {
  readonly queue: string;
  readonly deadLetterQueue: string;
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** The two sinks behind the exchange. */
export type Sink = 'postgres' | 'mongo';
export const SINKS: readonly Sink[] = ['postgres', 'mongo'];
/** Every sink with queues of its own: the two behind the exchange, and the file sink when partitioned. */
export type RecordSink = Sink | 'file';

/** Partitions per sink: 1 is the unpartitioned topology of CONTRACT.md §5 (`RECORD_PARTITIONS`). */
export const DEFAULT_PARTITIONS = 1;
export const MAX_PARTITIONS = 64;

/** The type of the per-sink exchanges of a partitioned topology (plugin `rabbitmq_consistent_hash_exchange`). */
export const CONSISTENT_HASH_EXCHANGE_TYPE = 'x-consistent-hash';

/** One sink's part of the topology: where the fanout exchange hands its copy, and the queues behind. */
export interface SinkTopology {
  readonly sink: RecordSink;
  readonly deadLetterQueue: string;
  /**
   * Partitioned: the consistent-hash exchange bound to `dataflow.records`, hashing each message's
   * routing key (the filter publishes a source's messages with the source as routing key) onto one
   * of the queues. Unpartitioned: undefined, the one queue is bound to `dataflow.records` itself.
   * The file sink's exchange is not bound to `dataflow.records`: the filter publishes to it.
   */
  readonly partitionExchange: string | undefined;
  /** In partition order: the queue of partition p is `queues[p]`. */
  readonly queues: readonly QueueDeclaration[];
}

const SINK_QUEUE: Readonly<Record<RecordSink, string>> = {
  postgres: POSTGRES_QUEUE,
  mongo: MONGO_QUEUE,
  file: FILE_QUEUE,
};
const SINK_DLQ: Readonly<Record<RecordSink, string>> = { postgres: POSTGRES_DLQ, mongo: MONGO_DLQ, file: FILE_DLQ };

function recordQueue(queue: string, deadLetterQueue: string, extra: Record<string, unknown>): QueueDeclaration {
  return {
    queue,
    deadLetterQueue,
    arguments: {
      'x-queue-type': 'quorum',
      'x-delivery-limit': DELIVERY_LIMIT,
      'x-dead-letter-exchange': DEAD_LETTER_EXCHANGE,
      'x-dead-letter-routing-key': deadLetterQueue,
      // At-least-once dead-lettering: a message is not removed from the source queue until the DLQ
      // has confirmed it, so a broker crash mid dead-letter cannot lose it. Requires reject-publish.
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
      ...extra,
    },
  };
}

/** The queue of partition `partition` of `sink` (the sink's one queue when unpartitioned). */
export function partitionQueue(sink: RecordSink, partition: number, partitions: number): string {
  return partitions === 1 && sink !== 'file' ? SINK_QUEUE[sink] : `${SINK_QUEUE[sink]}.${partition}`;
}

function checkPartitions(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new Error(`partitions must be an integer from 1 to ${MAX_PARTITIONS}, not ${partitions}`);
  }
}

/**
 * The topology for `partitions` partitions per sink. Every queue holding records has a single
 * active consumer, so that one writer at a time writes the sources of a queue, in order; the one
 * exception is the unpartitioned PostgreSQL queue, declared as it always was (competing consumers;
 * inserts are idempotent, and RabbitMQ refuses a re-declaration with other arguments, so changing
 * it would break running installations).
 */
export function recordTopology(partitions: number): readonly SinkTopology[] {
  checkPartitions(partitions);
  return SINKS.map((sink) => {
    const single = sink === 'mongo' || partitions > 1;
    const extra = single ? { 'x-single-active-consumer': true } : {};
    const queues = Array.from({ length: partitions }, (_, p) =>
      recordQueue(partitionQueue(sink, p, partitions), SINK_DLQ[sink], extra),
    );
    return {
      sink,
      deadLetterQueue: SINK_DLQ[sink],
      partitionExchange: partitions === 1 ? undefined : `${SINK_QUEUE[sink]}.partitions`,
      queues,
    };
  });
}

/**
 * The file sink's partitions: undefined when unpartitioned (the filter appends to its files itself,
 * CONTRACT.md §6). Partitioned, so that several filters can serve `/ingest`, the filter publishes
 * the records routed to the file sink to the consistent-hash exchange `dataflow.records.file.partitions`
 * (routing key: the source), which is not bound to `dataflow.records`; behind it, P quorum queues
 * `dataflow.records.file.<p>` with a single active consumer each (the file writer of one filter
 * replica), dead-lettered to `dataflow.records.file.dlq`. See docs/scale-out.md, "Filters".
 */
export function fileTopology(partitions: number): SinkTopology | undefined {
  checkPartitions(partitions);
  if (partitions === 1) return undefined;
  return {
    sink: 'file',
    deadLetterQueue: FILE_DLQ,
    partitionExchange: FILE_PARTITION_EXCHANGE,
    queues: Array.from({ length: partitions }, (_, p) =>
      recordQueue(partitionQueue('file', p, partitions), FILE_DLQ, { 'x-single-active-consumer': true }),
    ),
  };
}

/** The topology of one sink's queues (undefined: the sink has none at this partition count). */
export function sinkTopology(sink: RecordSink, partitions: number): SinkTopology | undefined {
  return sink === 'file' ? fileTopology(partitions) : recordTopology(partitions).find((s) => s.sink === sink);
}

/** The unpartitioned topology's queues (CONTRACT.md §5). */
export const RECORD_QUEUES: readonly QueueDeclaration[] = recordTopology(1).flatMap((sink) => sink.queues);

/** A sink's queue, or one of its partitions (`dataflow.records.mongo.3`, `dataflow.records.file.3`). */
const RECORD_QUEUE_NAME = /^dataflow\.records\.(?:(?:postgres|mongo)(?:\.(?:0|[1-9]\d?))?|file\.(?:0|[1-9]\d?))$/;

/** Whether `queue` holds records for a sink: a sink's queue or one of its partitions, the file sink's included. */
export function isRecordQueue(queue: string): boolean {
  return RECORD_QUEUE_NAME.test(queue);
}

export const DEAD_LETTER_QUEUE_ARGUMENTS: Readonly<Record<string, unknown>> = {
  'x-queue-type': 'quorum',
};
