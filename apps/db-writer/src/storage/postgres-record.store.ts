import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { DataRecord } from '@dataflow/contracts';
import type { RecordStore, StoreContext, StoreOutcome } from '@dataflow/messaging';
import { Counted, Timed } from '@dataflow/observability/instrumentation';
import { Resilient } from '@dataflow/resilience';
import { POSTGRES_POLICY } from './postgres.policy';
import { isPermanentPgError } from './pg-errors';

/**
 * One statement per batch: the columns travel as five arrays and `unnest` turns them into rows, so
 * the SQL text and its five parameters are the same whatever the batch size (no statement to build
 * per batch, no parameter limit). `ON CONFLICT (source, seq) DO NOTHING` makes it idempotent, and
 * `RETURNING` lists only the rows it inserted. The columns match the migration's table.
 */
const INSERT_BATCH = `INSERT INTO data_records (source, seq, "timestamp", random_value, hash_value)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::integer[], $5::char(2)[])
  ON CONFLICT (source, seq) DO NOTHING
  RETURNING seq`;

@Injectable()
export class PostgresRecordStore implements RecordStore {
  readonly sink = 'postgres';

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Transient failures are retried with backoff until they succeed, counted by the breaker. */
  @Counted('postgres.store')
  @Resilient(POSTGRES_POLICY)
  @Timed('postgres.store', { sink: 'postgres' })
  async store(records: DataRecord[], _context: StoreContext, signal?: AbortSignal): Promise<StoreOutcome> {
    // Records whose messages went back to the queue are not written any more (and not retried).
    signal?.throwIfAborted();
    const rows = uniqueById(records);
    const columns = {
      source: new Array<string>(rows.length),
      seq: new Array<number>(rows.length),
      timestamp: new Array<number>(rows.length),
      randomValue: new Array<number>(rows.length),
      hashValue: new Array<string>(rows.length),
    };
    rows.forEach((row, i) => {
      columns.source[i] = row.source;
      columns.seq[i] = row.seq;
      columns.timestamp[i] = row.timestamp;
      columns.randomValue[i] = row.randomValue;
      columns.hashValue[i] = row.hashValue;
    });
    const inserted: unknown = await this.dataSource.query(INSERT_BATCH, [
      columns.source,
      columns.seq,
      columns.timestamp,
      columns.randomValue,
      columns.hashValue,
    ]);
    const stored = Array.isArray(inserted) ? inserted.length : 0;
    return { stored, duplicates: records.length - stored };
  }

  isPermanent(error: unknown): boolean {
    return isPermanentPgError(error);
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }
}

/** One row per (source, seq): PostgreSQL refuses a statement that touches the same key twice. */
function uniqueById(records: readonly DataRecord[]): DataRecord[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    const key = `${r.source}\u0000${r.seq}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
