import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { DataRecord } from '@dataflow/contracts';
import type { RecordStore, StoreOutcome } from '@dataflow/messaging';
import { Timed } from '@dataflow/observability/instrumentation';
import { Resilient } from '@dataflow/resilience';
import { POSTGRES_POLICY } from './postgres.policy';
import { DataRecordEntity } from './data-record.entity';
import { isPermanentPgError } from './pg-errors';

/** One multi-row `INSERT … ON CONFLICT (source, seq) DO NOTHING` per batch: idempotent, atomic. */
@Injectable()
export class PostgresRecordStore implements RecordStore {
  readonly sink = 'postgres';

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Transient failures are retried with backoff until they succeed, counted by the breaker. */
  @Resilient(POSTGRES_POLICY)
  @Timed('postgres.store', { sink: 'postgres' })
  async store(records: DataRecord[]): Promise<StoreOutcome> {
    const rows = uniqueById(records);
    const result = await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(DataRecordEntity)
      .values(
        rows.map(({ source, seq, timestamp, randomValue, hashValue }) => ({
          source,
          seq,
          timestamp,
          randomValue,
          hashValue,
        })),
      )
      .orIgnore()
      .returning(['seq'])
      .updateEntity(false)
      .execute();
    // RETURNING lists only the rows this statement inserted; conflicts are skipped silently.
    const stored = Array.isArray(result.raw) ? result.raw.length : 0;
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
