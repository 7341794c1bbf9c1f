import { findGaps, formatRanges, isBlockSkip } from './gaps';

describe('findGaps', () => {
  it('finds nothing in a contiguous stream from 1', () => {
    expect(findGaps([1, 2, 3, 4], 1)).toMatchObject({ missingCount: 0, skippedCount: 0, missing: [], skipped: [] });
  });

  it('reports an interior gap as missing', () => {
    const gaps = findGaps([1, 2, 5, 6, 9], 1, 100);
    expect(gaps.missing).toEqual([
      { from: 3, to: 4 },
      { from: 7, to: 8 },
    ]);
    expect(gaps.missingCount).toBe(4);
    expect(gaps.missingRanges).toBe(2);
  });

  it('classifies a gap ending at a block boundary as a generator skip', () => {
    // A generator used 1..150, restarted, and went on at 201 with a block size of 100 ... 200.
    const gaps = findGaps([1, 2, 150, 201, 202], 1, 100);
    expect(gaps.missing).toEqual([{ from: 3, to: 149 }]);
    expect(gaps.skipped).toEqual([{ from: 151, to: 200 }]);
    expect(gaps.skippedCount).toBe(50);
  });

  it('treats a gap spanning several blocks that ends on a boundary as one skip', () => {
    const gaps = findGaps([5, 301], 5, 100);
    expect(gaps.skipped).toEqual([{ from: 6, to: 300 }]);
    expect(gaps.missingCount).toBe(0);
  });

  it('calls a gap that crosses a boundary but ends inside a block missing', () => {
    const gaps = findGaps([99, 105], 99, 100);
    expect(gaps.missing).toEqual([{ from: 100, to: 104 }]);
  });

  it('judges the leading gap from the lower bound', () => {
    expect(findGaps([4, 5], 1, 100).missing).toEqual([{ from: 1, to: 3 }]);
    expect(findGaps([101, 102], 1, 100).skipped).toEqual([{ from: 1, to: 100 }]);
    expect(findGaps([4, 5], undefined, 100).missingCount).toBe(0);
  });

  it('ignores repeats and never judges after the last present seq', () => {
    const gaps = findGaps([1, 1, 2, 2, 4, 4], 1, 100);
    expect(gaps.missing).toEqual([{ from: 3, to: 3 }]);
    expect(findGaps([], 1, 100).missingCount).toBe(0);
  });

  it('keeps only the first ranges but counts all', () => {
    const present = Array.from({ length: 200 }, (_, i) => i * 3 + 1);
    const gaps = findGaps(present, 1, 10_000, 5);
    expect(gaps.missing).toHaveLength(5);
    expect(gaps.missingRanges).toBe(199);
    expect(gaps.missingCount).toBe(398);
  });

  it('uses the contract block size by default', () => {
    expect(isBlockSkip({ from: 9000, to: 10_000 })).toBe(true);
    expect(isBlockSkip({ from: 9000, to: 9999 })).toBe(false);
  });

  it('formats ranges', () => {
    expect(
      formatRanges([
        { from: 3, to: 3 },
        { from: 5, to: 9 },
      ]),
    ).toBe('3, 5..9');
    expect(formatRanges([{ from: 1, to: 2 }], 4)).toBe('1..2, ... (4 ranges)');
  });
});
