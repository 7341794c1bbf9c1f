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
 * The prefetch of each partition's consumer: a writer may be active on every partition of its sink
 * (the others' writers gone), so the bound is shared out among them. At least 1 each, so with more
 * partitions than the prefetch allows the bound is exceeded by up to that many messages.
 */
export function prefetchPerPartition(prefetch: number, partitions: number): number {
  return Math.max(1, Math.floor(prefetch / partitions));
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
