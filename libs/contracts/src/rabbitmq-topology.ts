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

/** Partitions per sink: 1 is the unpartitioned topology of CONTRACT.md §5 (`RECORD_PARTITIONS`). */
export const DEFAULT_PARTITIONS = 1;
export const MAX_PARTITIONS = 64;

/** The type of the per-sink exchanges of a partitioned topology (plugin `rabbitmq_consistent_hash_exchange`). */
export const CONSISTENT_HASH_EXCHANGE_TYPE = 'x-consistent-hash';

/** One sink's part of the topology: where the fanout exchange hands its copy, and the queues behind. */
export interface SinkTopology {
  readonly sink: Sink;
  readonly deadLetterQueue: string;
  /**
   * Partitioned: the consistent-hash exchange bound to `dataflow.records`, hashing each message's
   * routing key (the filter publishes a source's messages with the source as routing key) onto one
   * of the queues. Unpartitioned: undefined, the one queue is bound to `dataflow.records` itself.
   */
  readonly partitionExchange: string | undefined;
  /** In partition order: the queue of partition p is `queues[p]`. */
  readonly queues: readonly QueueDeclaration[];
}

const SINK_QUEUE: Readonly<Record<Sink, string>> = { postgres: POSTGRES_QUEUE, mongo: MONGO_QUEUE };
const SINK_DLQ: Readonly<Record<Sink, string>> = { postgres: POSTGRES_DLQ, mongo: MONGO_DLQ };

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
export function partitionQueue(sink: Sink, partition: number, partitions: number): string {
  return partitions === 1 ? SINK_QUEUE[sink] : `${SINK_QUEUE[sink]}.${partition}`;
}

/**
 * The topology for `partitions` partitions per sink. Every queue holding records has a single
 * active consumer, so that one writer at a time writes the sources of a queue, in order; the one
 * exception is the unpartitioned PostgreSQL queue, declared as it always was (competing consumers;
 * inserts are idempotent, and RabbitMQ refuses a re-declaration with other arguments, so changing
 * it would break running installations).
 */
export function recordTopology(partitions: number): readonly SinkTopology[] {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new Error(`partitions must be an integer from 1 to ${MAX_PARTITIONS}, not ${partitions}`);
  }
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

/** The unpartitioned topology's queues (CONTRACT.md §5). */
export const RECORD_QUEUES: readonly QueueDeclaration[] = recordTopology(1).flatMap((sink) => sink.queues);

/** A sink's queue, or one of its partitions (`dataflow.records.mongo.3`). */
const RECORD_QUEUE_NAME = /^dataflow\.records\.(postgres|mongo)(\.(0|[1-9]\d?))?$/;

/** Whether `queue` holds records for a sink: a sink's queue or one of its partitions. */
export function isRecordQueue(queue: string): boolean {
  return RECORD_QUEUE_NAME.test(queue);
}

export const DEAD_LETTER_QUEUE_ARGUMENTS: Readonly<Record<string, unknown>> = {
  'x-queue-type': 'quorum',
};
