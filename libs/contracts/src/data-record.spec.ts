import { createHash } from 'node:crypto';
import { computeHash, isHighHash, MAX_RANDOM_VALUE, MAX_TIMESTAMP, recordKey } from './data-record';
import { prng } from '../../../test/support/prng';

/** The contract's definition, computed independently: last two hex characters of the full digest. */
function oracle(timestamp: number, randomValue: number): string {
  return createHash('md5').update(`${timestamp}${randomValue}`).digest('hex').slice(-2);
}

describe('computeHash', () => {
  it('gives the CONTRACT example: timestamp 1732500000000, randomValue 42 -> "2e"', () => {
    expect(computeHash(1732500000000, 42)).toBe('2e');
    expect(oracle(1732500000000, 42)).toBe('2e');
  });

  it('hashes the decimal timestamp immediately followed by the decimal randomValue', () => {
    // "1" ++ "23" and "12" ++ "3" are the same text, so they must hash alike.
    expect(computeHash(1, 23)).toBe(computeHash(12, 3));
    expect(computeHash(0, 0)).toBe(oracle(0, 0));
    expect(computeHash(MAX_TIMESTAMP, MAX_RANDOM_VALUE)).toBe(oracle(MAX_TIMESTAMP, MAX_RANDOM_VALUE));
  });

  it('matches MD5(hex).slice(-2) over many random inputs, including digests ending in 0x', () => {
    const random = prng(0xc0ffee);
    let leadingZero = 0;
    for (let i = 0; i < 5000; i++) {
      const timestamp = Math.floor(random() * (MAX_TIMESTAMP + 1));
      const randomValue = Math.floor(random() * (MAX_RANDOM_VALUE + 1));
      const hash = computeHash(timestamp, randomValue);
      expect(hash).toBe(oracle(timestamp, randomValue));
      expect(hash).toMatch(/^[0-9a-f]{2}$/);
      if (hash.startsWith('0')) leadingZero++;
    }
    // The zero-padding path must have been exercised (about 1 digest in 16 ends in 0x).
    expect(leadingZero).toBeGreaterThan(100);
  });

  it('agrees with the oracle when timestamps repeat and interleave (the per-millisecond memo)', () => {
    const random = prng(7);
    const timestamps = [1_732_500_000_000, 1_732_500_000_001, 1_732_500_000_000, 5, 50];
    for (let i = 0; i < 3000; i++) {
      const timestamp = timestamps[Math.floor(random() * timestamps.length)] as number;
      const randomValue = Math.floor(random() * (MAX_RANDOM_VALUE + 1));
      expect(computeHash(timestamp, randomValue)).toBe(oracle(timestamp, randomValue));
    }
    // Values outside the memo's slots are computed, never looked up.
    expect(computeHash(1, 101)).toBe(oracle(1, 101));
    expect(computeHash(1, 2.5)).toBe(oracle(1, 2.5));
    expect(computeHash(1, -1)).toBe(oracle(1, -1));
  });

  it('matches the oracle for realistic current timestamps and every randomValue', () => {
    for (let randomValue = 0; randomValue <= MAX_RANDOM_VALUE; randomValue++) {
      const timestamp = 1_732_500_000_000 + randomValue * 7919;
      expect(computeHash(timestamp, randomValue)).toBe(oracle(timestamp, randomValue));
    }
  });
});

describe('isHighHash', () => {
  it.each([
    ['99', false],
    ['9a', true],
    ['9c', true],
    ['9f', true],
    ['a0', true],
    ['00', false],
    ['0f', false],
    ['90', false],
    ['ff', true],
  ])('%s -> %s', (hash, expected) => {
    expect(isHighHash(hash)).toBe(expected);
  });

  it('is exactly "greater than 99" as plain string comparison for all 256 hashes', () => {
    let high = 0;
    for (let byte = 0; byte < 256; byte++) {
      const hash = byte.toString(16).padStart(2, '0');
      expect(isHighHash(hash)).toBe(hash > '99');
      if (isHighHash(hash)) high++;
    }
    // 9a..9f (6) plus a0..ff (96).
    expect(high).toBe(102);
  });
});

describe('recordKey', () => {
  it('joins source and seq', () => {
    expect(recordKey({ source: 'generator-1', seq: 42 })).toBe('generator-1:42');
  });
});
