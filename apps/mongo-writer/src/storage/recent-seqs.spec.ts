import { RecentSeqs } from './recent-seqs';

describe('RecentSeqs', () => {
  it('remembers the seqs added per source', () => {
    const recent = new RecentSeqs(100);
    recent.add('a', [1, 2]);
    recent.add('b', [2]);
    expect([recent.has('a', 1), recent.has('a', 3), recent.has('b', 2), recent.has('b', 1)]).toEqual([
      true,
      false,
      true,
      false,
    ]);
  });

  it('forgets the oldest batches beyond its capacity, whatever their source, and keeps the newest', () => {
    const recent = new RecentSeqs(4);
    recent.add('a', [1, 2]);
    recent.add('b', [1, 2]);
    recent.add('a', [3, 4]);
    expect(recent.has('a', 1)).toBe(false);
    expect(recent.has('b', 1)).toBe(true);
    expect(recent.has('a', 4)).toBe(true);
  });

  it('keeps a single batch larger than its capacity', () => {
    const recent = new RecentSeqs(2);
    recent.add('a', [1, 2, 3]);
    expect(recent.has('a', 3)).toBe(true);
  });
});
