import { SEQ_BLOCK_SIZE } from '@dataflow/contracts';

/** An inclusive run of seqs. */
export interface SeqRange {
  readonly from: number;
  readonly to: number;
}

export interface GapReport {
  /** Seqs absent from every sink that are not a generator block skip: findings. */
  readonly missingCount: number;
  readonly missingRanges: number;
  /** Seqs the generator skipped: the unused rest of a reserved block after a restart (information). */
  readonly skippedCount: number;
  readonly skippedRanges: number;
  /** The first ranges of each kind (at most `keep`). */
  readonly missing: SeqRange[];
  readonly skipped: SeqRange[];
}

/**
 * A generator reserves seqs in blocks of `blockSize` starting at 1 and, after a restart, goes on
 * after the block it had reserved: the unused rest of the block is never generated. Such a gap
 * ends exactly at a block boundary, so a gap whose last missing seq is a multiple of the block
 * size is a skip; any other gap lost records.
 */
export function isBlockSkip(range: SeqRange, blockSize: number = SEQ_BLOCK_SIZE): boolean {
  return range.to % blockSize === 0;
}

/**
 * The gaps in `present` (ascending; repeats allowed), classified as missing or skipped. Gaps are
 * judged from `lowerBound` (the first seq that should exist, e.g. 1 for a whole stream; undefined
 * to start at the first present seq) up to the last present seq: nobody can tell whether seqs after
 * the last one stored were ever generated.
 */
export function findGaps(
  present: ArrayLike<number>,
  lowerBound: number | undefined,
  blockSize: number = SEQ_BLOCK_SIZE,
  keep = 50,
): GapReport {
  const missing: SeqRange[] = [];
  const skipped: SeqRange[] = [];
  let missingCount = 0;
  let missingRanges = 0;
  let skippedCount = 0;
  let skippedRanges = 0;
  if (present.length === 0) {
    return { missingCount, missingRanges, skippedCount, skippedRanges, missing, skipped };
  }
  let expected: number = lowerBound ?? present[0] ?? 1;
  for (let i = 0; i < present.length; i++) {
    const seq = present[i] as number;
    if (seq > expected) {
      const range = { from: expected, to: seq - 1 };
      const size = range.to - range.from + 1;
      if (isBlockSkip(range, blockSize)) {
        skippedCount += size;
        skippedRanges++;
        if (skipped.length < keep) skipped.push(range);
      } else {
        missingCount += size;
        missingRanges++;
        if (missing.length < keep) missing.push(range);
      }
    }
    if (seq >= expected) expected = seq + 1;
  }
  return { missingCount, missingRanges, skippedCount, skippedRanges, missing, skipped };
}

/** `3`, `3..7`: ranges for humans. */
export function formatRanges(ranges: readonly SeqRange[], total?: number): string {
  const text = ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}..${r.to}`)).join(', ');
  return total !== undefined && total > ranges.length ? `${text}, ... (${total} ranges)` : text;
}
