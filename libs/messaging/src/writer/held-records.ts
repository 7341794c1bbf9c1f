import type { z } from 'zod';
import { MAX_RECORDS_PER_MESSAGE } from '../transport/records-message.codec';

/**
 * Default bound of the records a writer holds unacknowledged (decoded, about 80 MB), per partition
 * it is active on: each partition's consumer has the whole prefetch, since a partition's writes take
 * only its own messages, and with small messages (a filter hands on what one frame carried) less in
 * flight makes writes too small to keep up (the scale chaos run, at 2 and at 10 messages a partition).
 */
export const DEFAULT_MAX_HELD_RECORDS = 200_000;

/**
 * What a writer holds is bounded by the broker's prefetch (messages), and a message may carry up to
 * MAX_RECORDS_PER_MESSAGE records. Without an explicit prefetch, it is as many of the largest
 * messages as fit in `maxHeldRecords`.
 */
export function prefetchFor(maxHeldRecords: number, prefetch: number | undefined): number {
  return prefetch ?? Math.max(1, Math.floor(maxHeldRecords / MAX_RECORDS_PER_MESSAGE));
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
