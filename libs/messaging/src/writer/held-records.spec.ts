import { MIN_PARTITION_PREFETCH, prefetchFor, prefetchPerPartition } from './held-records';

describe('the held bound', () => {
  it('derives the prefetch from the bound and the largest message, unless given', () => {
    expect(prefetchFor(200_000, undefined)).toBe(20);
    expect(prefetchFor(10_000, undefined)).toBe(1);
    expect(prefetchFor(200_000, 7)).toBe(7);
  });

  it('shares the prefetch among the preferred partitions, down to a minimum a partition needs', () => {
    expect(prefetchPerPartition(20, 1)).toBe(20);
    expect(prefetchPerPartition(20, 2)).toBe(MIN_PARTITION_PREFETCH);
    expect(prefetchPerPartition(60, 3)).toBe(20);
    // More preferred partitions than the prefetch allows: the minimum, beyond the bound (documented).
    expect(prefetchPerPartition(20, 8)).toBe(MIN_PARTITION_PREFETCH);
    // A writer prefetch below the minimum stays what it is.
    expect(prefetchPerPartition(4, 8)).toBe(4);
    expect(prefetchPerPartition(1, 1)).toBe(1);
  });
});
