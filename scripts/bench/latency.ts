import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { withPostgres } from '../kit/stores';
import { percentiles, type Percentiles } from './util';

/** Bucket bounds (ms) of the latency distribution chart. */
export const LATENCY_BOUNDS_MS = [5, 10, 25, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000];

export interface SinkLatency {
  /** Percentiles over every record of the window, ms. */
  readonly percentiles?: Percentiles;
  /** Records of the window the writer's commit log has no commit time for (0 after a clean step). */
  readonly missing: number;
  /** Records per bucket of LATENCY_BOUNDS_MS (the last bucket takes the rest). */
  readonly counts: number[];
}

/**
 * Exact end-to-end latencies, per record: the first commit time of its seq in the writer's commit
 * log (`*_COMMIT_LOG`, see CommitLog) minus its generation timestamp. The timestamps come from
 * PostgreSQL (every record routed to the queue reaches both databases, with the same timestamp).
 */
export interface LatencySummary {
  readonly postgres: SinkLatency;
  readonly mongo: SinkLatency;
}

/** First commit time (epoch ms) per seq of `source`, from a commit log; seqs never committed stay NaN. */
export async function commitTimes(file: string, source: string, maxSeq: number): Promise<Float64Array> {
  const times = new Float64Array(maxSeq + 1).fill(Number.NaN);
  if (!existsSync(file)) return times;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    const [at, owner, first, last] = line.split(' ');
    if (owner !== source) continue;
    const end = Math.min(Number(last), maxSeq);
    for (let seq = Number(first); seq <= end; seq++) if (Number.isNaN(times[seq])) times[seq] = Number(at);
  }
  return times;
}

/** The latencies of the records of `source` generated between `fromMs` and `toMs`. */
export async function exactLatencies(
  databaseUrl: string,
  source: string,
  fromMs: number,
  toMs: number,
  logs: { postgres: string; mongo: string },
): Promise<LatencySummary> {
  const { rows } = await withPostgres(databaseUrl, (client) =>
    client.query<{ seq: string; timestamp: string }>(
      `SELECT seq, "timestamp" FROM data_records WHERE source = $1 AND "timestamp" BETWEEN $2 AND $3`,
      [source, fromMs, toMs],
    ),
  );
  const maxSeq = rows.reduce((max, row) => Math.max(max, Number(row.seq)), 0);
  const sink = async (file: string): Promise<SinkLatency> => {
    const times = await commitTimes(file, source, maxSeq);
    const values: number[] = [];
    for (const row of rows) {
      const at = times[Number(row.seq)] ?? Number.NaN;
      if (!Number.isNaN(at)) values.push(Math.max(0, at - Number(row.timestamp)));
    }
    const counts = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
    for (const value of values) {
      const index = LATENCY_BOUNDS_MS.findIndex((bound) => value <= bound);
      const bucket = index < 0 ? LATENCY_BOUNDS_MS.length : index;
      counts[bucket] = (counts[bucket] ?? 0) + 1;
    }
    return { percentiles: percentiles(values), missing: rows.length - values.length, counts };
  };
  return { postgres: await sink(logs.postgres), mongo: await sink(logs.mongo) };
}
