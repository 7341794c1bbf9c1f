import type { Channel } from 'amqplib';
import {
  DEAD_LETTER_EXCHANGE,
  DEAD_LETTER_QUEUE_ARGUMENTS,
  RECORD_QUEUES,
  RECORDS_EXCHANGE,
} from '@dataflow/contracts';

/**
 * Declares the whole topology of CONTRACT.md §5 (idempotent; the same arguments in every app).
 * Runs in each channel's setup, so it is redone after every reconnect, before anything is
 * published or consumed on that channel.
 */
export async function declareTopology(channel: Channel): Promise<void> {
  await channel.assertExchange(RECORDS_EXCHANGE, 'fanout', { durable: true });
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, 'direct', { durable: true });
  for (const { queue, deadLetterQueue, arguments: args } of RECORD_QUEUES) {
    await channel.assertQueue(deadLetterQueue, { durable: true, arguments: { ...DEAD_LETTER_QUEUE_ARGUMENTS } });
    await channel.bindQueue(deadLetterQueue, DEAD_LETTER_EXCHANGE, deadLetterQueue);
    await channel.assertQueue(queue, { durable: true, arguments: { ...args } });
    await channel.bindQueue(queue, RECORDS_EXCHANGE, '');
  }
}
