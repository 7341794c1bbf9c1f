import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeHash, DataRecord, isSinkFileName } from '@dataflow/contracts';

/** Every record in a file sink directory, file by file in name order, line by line. */
export function readFileSink(dir: string): DataRecord[] {
  const names = readdirSync(dir).filter(isSinkFileName).sort();
  return names.flatMap((name) =>
    readFileSync(join(dir, name), 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as DataRecord),
  );
}

export function makeRecord(
  source: string,
  seq: number,
  randomValue: number,
  timestamp = 1_732_500_000_000 + seq,
): DataRecord {
  return { source, seq, timestamp, randomValue, hashValue: computeHash(timestamp, randomValue) };
}

/** Finds a timestamp (from `start`) whose hash with `randomValue` is above or at most "99". */
export function recordWithHash(
  source: string,
  seq: number,
  high: boolean,
  start = 1_732_500_000_000 + seq * 1000,
): DataRecord {
  for (let timestamp = start; ; timestamp++) {
    const hashValue = computeHash(timestamp, 95);
    if (hashValue > '99' === high) return { source, seq, timestamp, randomValue: 95, hashValue };
  }
}

export function seqsOf(records: readonly DataRecord[]): number[] {
  return records.map((r) => r.seq);
}

export function isStrictlyAscending(values: readonly number[]): boolean {
  return values.every((value, i) => i === 0 || value > (values[i - 1] as number));
}

/** A record whose hashValue is exactly `hash` (searches timestamps from a per-seq start). */
export function recordWithExactHash(source: string, seq: number, hash: string): DataRecord {
  for (let timestamp = 1_732_500_000_000 + seq * 100_000; ; timestamp++) {
    if (computeHash(timestamp, 95) === hash) return { source, seq, timestamp, randomValue: 95, hashValue: hash };
  }
}

/** A record of `source`/`seq` whose hash is above "99" (high) or not. */
export function highOrLow(source: string, seq: number, high: boolean): DataRecord {
  return recordWithHash(source, seq, high);
}
