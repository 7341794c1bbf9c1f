import { HeldSeqs } from './held-seqs';

describe('HeldSeqs', () => {
  it('holds exactly the seqs added above the floor, and everything at or below it', () => {
    const held = new HeldSeqs();
    held.add('a', [5, 7]);
    expect([4, 5, 6, 7].map((seq) => held.holds('a', seq))).toEqual([false, true, false, true]);
    held.settle('a', 6);
    expect([1, 6, 7, 8].map((seq) => held.holds('a', seq))).toEqual([true, true, true, false]);
    expect(held.snapshot()).toEqual({ a: { floor: 6, above: [7] } });
  });

  it('never moves a floor back, and ignores seqs added at or below it', () => {
    const held = new HeldSeqs();
    expect(held.settle('a', 10)).toBe(true);
    expect(held.settle('a', 4)).toBe(false);
    held.add('a', [3, 12]);
    expect(held.snapshot()).toEqual({ a: { floor: 10, above: [12] } });
  });

  it('treats a scanned maximum as held by this sink only, below it', () => {
    const held = new HeldSeqs();
    held.scanned('a', 9);
    expect([9, 10].map((seq) => held.holds('a', seq))).toEqual([true, false]);
    expect(held.floor('a')).toBe(0);
    expect(held.snapshot()).toEqual({ a: { floor: 0, scannedMax: 9 } });
  });

  it('restores a snapshot', () => {
    const held = new HeldSeqs();
    held.restore('a', { floor: 3, above: [2, 5] });
    expect(held.snapshot()).toEqual({ a: { floor: 3, above: [5] } });
    expect(new HeldSeqs().holds('b', 1)).toBe(false);
  });

  it('merges a higher floor into what start-up found, dropping the seqs it covers', () => {
    const held = new HeldSeqs();
    held.add('a', [101, 102, 103]); // found by the scan, after the source came back
    held.restore('a', { floor: 100 }); // the floor it left memory with
    held.restore('a', { floor: 40 }); // an older, lower floor changes nothing
    expect(held.holds('a', 57)).toBe(true);
    expect(held.snapshot()).toEqual({ a: { floor: 100, above: [101, 102, 103] } });
    held.restore('a', { floor: 102 });
    expect(held.snapshot()).toEqual({ a: { floor: 102, above: [103] } });
  });
});
