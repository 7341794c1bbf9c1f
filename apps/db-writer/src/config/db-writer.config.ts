import { z } from 'zod';
import { commonEnv, integer, port, rabbitEnv, url } from '@dataflow/config';

export const dbWriterEnv = z.object({
  ...commonEnv,
  ...rabbitEnv,
  DB_WRITER_PORT: port(3003),
  DATABASE_URL: url('postgres://postgres:postgres@127.0.0.1:5432/dataflow', ['postgres:', 'postgresql:']),
  /** Unacknowledged messages the broker may push (the batching window; each holds up to 1000 records). */
  DB_WRITER_PREFETCH: integer(2000, 1, 65_535),
  /** Records per INSERT statement, and the longest a partly filled batch waits. */
  DB_WRITER_BATCH_SIZE: integer(1000, 1, 10_000),
  DB_WRITER_BATCH_MS: integer(50, 1, 60_000),
  DB_WRITER_POOL_SIZE: integer(4, 1, 100),
  DB_WRITER_BREAKER_FAILURES: integer(5, 1, 1000),
  DB_WRITER_BREAKER_HALF_OPEN_MS: integer(5_000, 100, 600_000),
  DB_WRITER_RETRY_MAX_MS: integer(10_000, 100, 600_000),
  DB_WRITER_STATEMENT_TIMEOUT_MS: integer(30_000, 100, 600_000),
});

export type DbWriterConfig = z.output<typeof dbWriterEnv>;
