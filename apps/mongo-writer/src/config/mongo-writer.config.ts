import { z } from 'zod';
import { commonEnv, integer, optionalInteger, port, rabbitEnv, url } from '@dataflow/config';
import { checkHeldBound, DEFAULT_MAX_HELD_RECORDS } from '@dataflow/messaging/writer/held-records';

export const mongoWriterEnv = z
  .object({
    ...commonEnv,
    ...rabbitEnv,
    MONGO_WRITER_PORT: port(3004),
    MONGODB_URL: url('mongodb://127.0.0.1:27017/dataflow', ['mongodb:', 'mongodb+srv:']),
    /** Unacknowledged messages the broker may push; unset: derived from the next (prefetchFor). */
    MONGO_WRITER_PREFETCH: optionalInteger(1, 65_535),
    /** The most records held unacknowledged: prefetch × the largest message must fit. */
    MONGO_WRITER_MAX_HELD_RECORDS: integer(DEFAULT_MAX_HELD_RECORDS, 10_000, 100_000_000),
    MONGO_WRITER_BATCH_SIZE: integer(1000, 1, 10_000),
    MONGO_WRITER_BATCH_MS: integer(50, 1, 60_000),
    MONGO_WRITER_BREAKER_FAILURES: integer(5, 1, 1000),
    MONGO_WRITER_BREAKER_HALF_OPEN_MS: integer(5_000, 100, 600_000),
    MONGO_WRITER_RETRY_MAX_MS: integer(10_000, 100, 600_000),
    /** One write attempt is given up (and counted as a failure) after this long. */
    MONGO_WRITER_WRITE_TIMEOUT_MS: integer(30_000, 1_000, 600_000),
  })
  .superRefine((env, context) =>
    checkHeldBound(
      { name: 'MONGO_WRITER_PREFETCH', value: env.MONGO_WRITER_PREFETCH },
      { name: 'MONGO_WRITER_MAX_HELD_RECORDS', value: env.MONGO_WRITER_MAX_HELD_RECORDS },
      context,
    ),
  );

export type MongoWriterConfig = z.output<typeof mongoWriterEnv>;
