import { commitLines } from './commit-log';

const record = (source: string, seq: number) => ({ source, seq, timestamp: 0, randomValue: 0, hashValue: '00' });

describe('commitLines', () => {
  it('writes one line per run of consecutive seqs of one source', () => {
    const records = [record('a', 1), record('a', 2), record('a', 3), record('b', 7), record('a', 4), record('a', 6)];
    expect(commitLines(records, 1000)).toBe('1000 a 1 3\n1000 b 7 7\n1000 a 4 4\n1000 a 6 6\n');
  });

  it('writes nothing for no records', () => {
    expect(commitLines([], 1)).toBe('');
  });
});
