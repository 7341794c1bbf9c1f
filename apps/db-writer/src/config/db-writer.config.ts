import { z } from 'zod';
import { commonEnv, integer, optionalInteger, port, rabbitEnv, url } from '@dataflow/config';
import { checkHeldBound, DEFAULT_MAX_HELD_RECORDS } from '@dataflow/messaging/writer/held-records';

export const dbWriterEnv = z
  .object({
    ...commonEnv,
    ...rabbitEnv,
    DB_WRITER_PORT: port(3003),
    DATABASE_URL: url('postgres://postgres:postgres@127.0.0.1:5432/dataflow', ['postgres:', 'postgresql:']),
    /** Unacknowledged messages the broker may push; unset: derived from the next (prefetchFor). */
    DB_WRITER_PREFETCH: optionalInteger(1, 65_535),
    /** The most records held unacknowledged: prefetch × the largest message must fit. */
    DB_WRITER_MAX_HELD_RECORDS: integer(DEFAULT_MAX_HELD_RECORDS, 10_000, 100_000_000),
    /** Records per INSERT statement, and the longest a partly filled batch waits. */
    DB_WRITER_BATCH_SIZE: integer(1000, 1, 10_000),
    DB_WRITER_BATCH_MS: integer(50, 1, 60_000),
    DB_WRITER_POOL_SIZE: integer(4, 1, 100),
    DB_WRITER_BREAKER_FAILURES: integer(5, 1, 1000),
    DB_WRITER_BREAKER_HALF_OPEN_MS: integer(5_000, 100, 600_000),
    DB_WRITER_RETRY_MAX_MS: integer(10_000, 100, 600_000),
    DB_WRITER_STATEMENT_TIMEOUT_MS: integer(30_000, 100, 600_000),
  })
  .superRefine((env, context) =>
    checkHeldBound(
      { name: 'DB_WRITER_PREFETCH', value: env.DB_WRITER_PREFETCH },
      { name: 'DB_WRITER_MAX_HELD_RECORDS', value: env.DB_WRITER_MAX_HELD_RECORDS },
      context,
    ),
  );

export type DbWriterConfig = z.output<typeof dbWriterEnv>;
