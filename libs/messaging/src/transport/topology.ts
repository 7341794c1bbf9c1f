import type { Channel } from 'amqplib';
import {
  CONSISTENT_HASH_EXCHANGE_TYPE,
  DEAD_LETTER_EXCHANGE,
  DEAD_LETTER_QUEUE_ARGUMENTS,
  fileTopology,
  MAX_PARTITIONS,
  recordTopology,
  RECORDS_EXCHANGE,
  type SinkTopology,
} from '@dataflow/contracts';

/**
 * Declares the whole topology of CONTRACT.md §5 for `partitions` partitions per sink (idempotent;
 * the same arguments in every app, which must all be given the same `RECORD_PARTITIONS`). Runs in
 * each channel's setup, so it is redone after every reconnect, before anything is published or
 * consumed on that channel.
 *
 * Partitioned, each sink's consistent-hash exchange is bound to the fanout exchange, and its
 * partition queues to it with equal weights, in partition order. The exchange maps a routing key to
 * a bucket by the order its bindings were made in, so they are always made in the same order, and a
 * partition queue deleted by hand moves the sources of its bucket when it is bound again (see
 * docs/scale-out.md: changing the partitions needs a drain). The file sink's partitions (partitioned
 * only) have an exchange of their own, which the filter publishes to, not bound to the fanout.
 */
export async function declareTopology(channel: Channel, partitions: number): Promise<void> {
  await channel.assertExchange(RECORDS_EXCHANGE, 'fanout', { durable: true });
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, 'direct', { durable: true });
  for (const sink of recordTopology(partitions)) await declareSink(channel, sink, RECORDS_EXCHANGE);
  const file = fileTopology(partitions);
  if (file) await declareSink(channel, file, undefined);
}

/** One sink's DLQ, partition exchange (bound to `boundTo`, if any) and queues. */
async function declareSink(
  channel: Channel,
  { deadLetterQueue, partitionExchange, queues }: SinkTopology,
  boundTo: string | undefined,
): Promise<void> {
  await channel.assertQueue(deadLetterQueue, { durable: true, arguments: { ...DEAD_LETTER_QUEUE_ARGUMENTS } });
  await channel.bindQueue(deadLetterQueue, DEAD_LETTER_EXCHANGE, deadLetterQueue);
  if (partitionExchange !== undefined) {
    await channel.assertExchange(partitionExchange, CONSISTENT_HASH_EXCHANGE_TYPE, { durable: true });
    if (boundTo !== undefined) await channel.bindExchange(partitionExchange, boundTo, '');
  }
  for (const { queue, arguments: args } of queues) {
    await channel.assertQueue(queue, { durable: true, arguments: { ...args } });
    // A consistent-hash binding's key is the queue's weight.
    await channel.bindQueue(queue, partitionExchange ?? RECORDS_EXCHANGE, partitionExchange ? '1' : '');
  }
}

/**
 * Deletes every queue and exchange of the record topology, for any partition count (the
 * unpartitioned queues, the partition queues up to MAX_PARTITIONS, the file sink's included, the
 * partition exchanges and the DLQs), so that the next declaration starts clean. For tests and harnesses on a broker of their own;
 * the records in those queues are lost.
 */
export async function deleteTopology(channel: Channel): Promise<void> {
  const file = fileTopology(MAX_PARTITIONS);
  for (const { queues, deadLetterQueue, partitionExchange } of [
    ...recordTopology(1),
    ...recordTopology(MAX_PARTITIONS),
    ...(file ? [file] : []),
  ]) {
    for (const { queue } of queues) await channel.deleteQueue(queue);
    await channel.deleteQueue(deadLetterQueue);
    if (partitionExchange) await channel.deleteExchange(partitionExchange);
  }
}
