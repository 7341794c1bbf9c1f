import { z } from 'zod';
import { commonEnv, integer, port, rabbitEnv, url } from '@dataflow/config';

export const mongoWriterEnv = z.object({
  ...commonEnv,
  ...rabbitEnv,
  MONGO_WRITER_PORT: port(3004),
  MONGODB_URL: url('mongodb://127.0.0.1:27017/dataflow', ['mongodb:', 'mongodb+srv:']),
  MONGO_WRITER_PREFETCH: integer(2000, 1, 65_535),
  MONGO_WRITER_BATCH_SIZE: integer(1000, 1, 10_000),
  MONGO_WRITER_BATCH_MS: integer(50, 1, 60_000),
  MONGO_WRITER_BREAKER_FAILURES: integer(5, 1, 1000),
  MONGO_WRITER_BREAKER_HALF_OPEN_MS: integer(5_000, 100, 600_000),
  MONGO_WRITER_RETRY_MAX_MS: integer(10_000, 100, 600_000),
});

export type MongoWriterConfig = z.output<typeof mongoWriterEnv>;
