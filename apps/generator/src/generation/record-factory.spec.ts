import { createHash } from 'node:crypto';
import { MAX_RANDOM_VALUE, MIN_RANDOM_VALUE, validateRecord } from '@dataflow/contracts';
import { createRecord } from './record-factory';

function md5Tail(text: string): string {
  return createHash('md5').update(text).digest('hex').slice(-2);
}

describe('createRecord', () => {
  it('builds the CONTRACT example with a pinned random value', () => {
    expect(createRecord('generator-1', 1, 1732500000000, () => 42)).toEqual({
      source: 'generator-1',
      seq: 1,
      timestamp: 1732500000000,
      randomValue: 42,
      hashValue: '2e',
    });
  });

  it('hashes the decimal timestamp followed by the decimal random value', () => {
    for (const value of [0, 7, 50, 99, 100]) {
      const record = createRecord('g', 9, 1_700_000_000_123, () => value);
      expect(record.randomValue).toBe(value);
      expect(record.hashValue).toBe(md5Tail(`1700000000123${value}`));
    }
  });

  it('keeps source, seq and timestamp as given, and calls random once', () => {
    let calls = 0;
    const record = createRecord('gen.A_1-x', 123456, 42, () => {
      calls++;
      return 5;
    });
    expect(calls).toBe(1);
    expect(record).toMatchObject({ source: 'gen.A_1-x', seq: 123456, timestamp: 42 });
    expect(Object.keys(record)).toEqual(['source', 'seq', 'timestamp', 'randomValue', 'hashValue']);
  });

  it('by default draws integers 0..100 inclusive, hitting both ends, and every record is valid', () => {
    const seen = new Set<number>();
    const outOfRange: number[] = [];
    const invalid: unknown[] = [];
    for (let i = 0; i < 20_000; i++) {
      const record = createRecord('generator-1', i + 1, 1_732_500_000_000 + i);
      const value = record.randomValue;
      if (!Number.isInteger(value) || value < MIN_RANDOM_VALUE || value > MAX_RANDOM_VALUE) outOfRange.push(value);
      seen.add(value);
      if (!validateRecord(record).ok) invalid.push(record);
    }
    expect(outOfRange).toEqual([]);
    expect(invalid).toEqual([]);
    expect(seen.has(0)).toBe(true);
    expect(seen.has(100)).toBe(true);
    // 20,000 uniform draws over 101 values leave none out (probability of a miss ~ 1e-84).
    expect(seen.size).toBe(101);
  });

  it('is roughly uniform: no value is drawn far more or less often than 1/101', () => {
    const counts = new Array<number>(101).fill(0);
    const draws = 101_000;
    for (let i = 0; i < draws; i++) {
      const value = createRecord('g', 1, 0).randomValue;
      counts[value] = (counts[value] ?? 0) + 1;
    }
    // Expected 1000 each, standard deviation ~31: 6 sigma either way.
    expect(counts.filter((count) => count <= 810 || count >= 1190)).toEqual([]);
  });
});
