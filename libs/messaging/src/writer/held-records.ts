import type { z } from 'zod';
import { MAX_RECORDS_PER_MESSAGE } from '../transport/records-message.codec';

/** Default bound of the records a writer holds unacknowledged (decoded, about 80 MB). */
export const DEFAULT_MAX_HELD_RECORDS = 200_000;

/**
 * What a writer holds is bounded by the broker's prefetch (messages), and a message may carry up to
 * MAX_RECORDS_PER_MESSAGE records. Without an explicit prefetch, it is as many of the largest
 * messages as fit in `maxHeldRecords`.
 */
export function prefetchFor(maxHeldRecords: number, prefetch: number | undefined): number {
  return prefetch ?? Math.max(1, Math.floor(maxHeldRecords / MAX_RECORDS_PER_MESSAGE));
}

/**
 * Messages in flight a partition needs to be written as fast as a whole writer used to write its
 * one queue: a partition's writes take only its own messages, and small messages (a filter hands
 * on what one frame carried) would otherwise make small writes.
 */
export const MIN_PARTITION_PREFETCH = 10;

/**
 * The prefetch of each partition's consumer: the writer's prefetch shared out among the partitions
 * it prefers (the ones it is active on while every writer of its sink is up; all of them without an
 * ordinal), but at least {@link MIN_PARTITION_PREFETCH}. So the held bound holds while every writer
 * is up and `prefetch / preferred` is at least that minimum (by default, 20 messages: with up to 2
 * preferred partitions). Beyond, and while a writer covers for a missing writer's partitions, it
 * holds up to `partitions active × per-partition prefetch` of the largest messages. A writer
 * prefetch below the minimum (`*_PREFETCH`, or a small `*_MAX_HELD_RECORDS`) is the minimum.
 */
export function prefetchPerPartition(prefetch: number, preferredPartitions: number): number {
  const shared = Math.max(1, Math.floor(prefetch / Math.max(1, preferredPartitions)));
  return Math.max(shared, Math.min(prefetch, MIN_PARTITION_PREFETCH));
}

/** An explicit prefetch must fit the bound too: refused at start otherwise, naming the variable. */
export function checkHeldBound(
  prefetch: { readonly name: string; readonly value: number | undefined },
  maxHeld: { readonly name: string; readonly value: number },
  context: z.RefinementCtx,
): void {
  if (prefetch.value === undefined || prefetch.value * MAX_RECORDS_PER_MESSAGE <= maxHeld.value) return;
  context.addIssue({
    code: 'custom',
    path: [prefetch.name],
    message:
      `${prefetch.value} messages of up to ${MAX_RECORDS_PER_MESSAGE} records can exceed ${maxHeld.name} (${maxHeld.value}); ` +
      `lower it to ${Math.floor(maxHeld.value / MAX_RECORDS_PER_MESSAGE)} or raise ${maxHeld.name} to ${prefetch.value * MAX_RECORDS_PER_MESSAGE}`,
  });
}
