import { hash } from 'node:crypto';

/** The record of CONTRACT.md §1. Identity is (`source`, `seq`). */
export interface DataRecord {
  readonly source: string;
  readonly seq: number;
  readonly timestamp: number;
  readonly randomValue: number;
  readonly hashValue: string;
}

export const RECORD_FIELDS = ['source', 'seq', 'timestamp', 'randomValue', 'hashValue'] as const;

export const SOURCE_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const MIN_RANDOM_VALUE = 0;
export const MAX_RANDOM_VALUE = 100;
/** 9999-12-31T23:59:59.999Z: later instants have no `YYYY` file name and no valid `Date` beyond 8.64e15. */
export const MAX_TIMESTAMP = 253_402_300_799_999;

/**
 * A generator durably reserves seqs in blocks of this size, starting at 1, and skips the unused
 * rest of its block after a crash. A gap in a source's seqs that ends at a multiple of this size
 * is such a skip, not a loss (reconciliation tools rely on it).
 */
export const SEQ_BLOCK_SIZE = 10_000;

/**
 * The last hash computed for each random value, with the timestamp it was computed for. Records
 * made in the same millisecond share their timestamp (a generator makes hundreds in one tick at
 * high rates), and there are only 101 random values, so most checks of a frame or a message are a
 * lookup instead of an MD5. Bounded whatever the input: one slot per random value.
 */
const memoTimestamps = new Float64Array(MAX_RANDOM_VALUE + 1).fill(Number.NaN);
const memoHashes = new Array<string>(MAX_RANDOM_VALUE + 1).fill('');

/**
 * Last two lowercase hex characters of MD5(decimal timestamp ++ decimal randomValue).
 * `crypto.hash` is the one-shot digest (no Hash object per call), the cheapest way on the hot
 * path: the filter and both writers check every record they receive, and records of the same
 * millisecond are looked up (see memoTimestamps).
 */
export function computeHash(timestamp: number, randomValue: number): string {
  const slot = Number.isInteger(randomValue) && randomValue >= 0 && randomValue <= MAX_RANDOM_VALUE;
  if (slot && memoTimestamps[randomValue] === timestamp) return memoHashes[randomValue] as string;
  const computed = hash('md5', `${timestamp}${randomValue}`).slice(-2);
  if (slot) {
    memoTimestamps[randomValue] = timestamp;
    memoHashes[randomValue] = computed;
  }
  return computed;
}

/** The nesting rule's comparison: plain string comparison of the two hex characters. */
export function isHighHash(hashValue: string): boolean {
  return hashValue > '99';
}

/** Stable key of a record's identity, for maps and logs. */
export function recordKey(record: Pick<DataRecord, 'source' | 'seq'>): string {
  return `${record.source}:${record.seq}`;
}
