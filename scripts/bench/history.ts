import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** The tracked trend of the key figures: one entry per full `npm run bench`, oldest first. */
export const HISTORY_FILE = 'docs/bench-history.json';

export interface HistoryEntry {
  /** The build's commit. */
  readonly commit?: string;
  readonly at: string;
  readonly cpus: number;
  /** All to the queue, stored in both databases, records/s (the highest sustained step). */
  readonly maxQueue?: number;
  /** The same-box baseline pipeline, records/s (see baseline.ts). */
  readonly baseline?: number;
  /** maxQueue / baseline. */
  readonly ratio?: number;
  readonly maxMix?: number;
  /** Exact p99 at 1,000 records/s, ms. */
  readonly p99PostgresMs?: number;
  readonly p99MongoMs?: number;
  /** Highest CPU of one app at 5 records/s, percent of a core. */
  readonly idleCpuPercent?: number;
  /** Highest RSS of one app at 1,000 records/s, MB. */
  readonly rssMb?: number;
  readonly valid: boolean;
}

export function readHistory(file: string): HistoryEntry[] {
  if (!existsSync(file)) return [];
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`${file} is not a JSON array`);
  return parsed as HistoryEntry[];
}

/** Appends `entry` to the history in `file` (created when missing); returns the whole history. */
export function appendHistory(file: string, entry: HistoryEntry): HistoryEntry[] {
  const history = [...readHistory(file), entry];
  writeFileSync(file, `${JSON.stringify(history, null, 2)}\n`);
  return history;
}
