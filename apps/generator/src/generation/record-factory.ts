import { randomInt } from 'node:crypto';
import { computeHash, DataRecord, MAX_RANDOM_VALUE } from '@dataflow/contracts';

/** Builds a record of CONTRACT.md §1; `random` is injectable so tests can pin values. */
export function createRecord(
  source: string,
  seq: number,
  timestamp: number,
  random: () => number = () => randomInt(0, MAX_RANDOM_VALUE + 1),
): DataRecord {
  const randomValue = random();
  return { source, seq, timestamp, randomValue, hashValue: computeHash(timestamp, randomValue) };
}
