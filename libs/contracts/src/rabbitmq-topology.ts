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

/**
 * The PostgreSQL queue may have many competing consumers (inserts are idempotent, order inside a
 * table is not observable). The MongoDB queue has a single active consumer: the nesting rule needs
 * each source's stream in order, so a second replica is a hot standby.
 */
export const RECORD_QUEUES: readonly QueueDeclaration[] = [
  recordQueue(POSTGRES_QUEUE, POSTGRES_DLQ, {}),
  recordQueue(MONGO_QUEUE, MONGO_DLQ, { 'x-single-active-consumer': true }),
];

export const DEAD_LETTER_QUEUE_ARGUMENTS: Readonly<Record<string, unknown>> = {
  'x-queue-type': 'quorum',
};

export function queueDeclaration(queue: string): QueueDeclaration {
  const found = RECORD_QUEUES.find((q) => q.queue === queue);
  if (!found) throw new Error(`unknown record queue ${queue}`);
  return found;
}
