import type { z } from 'zod';
import { integer, port, url } from '@dataflow/config';
import { writerEnv } from '@dataflow/messaging/writer/writer-env';

/** The prefix of the mongo-writer's own variables (the shared ones: see writerVariables). */
export const MONGO_WRITER = 'MONGO_WRITER';

export const mongoWriterEnv = writerEnv(MONGO_WRITER, {
  MONGO_WRITER_PORT: port(3004),
  MONGODB_URL: url('mongodb://127.0.0.1:27017/dataflow', ['mongodb:', 'mongodb+srv:']),
  /** One write attempt is given up (and counted as a failure) after this long. */
  MONGO_WRITER_WRITE_TIMEOUT_MS: integer(30_000, 1_000, 600_000),
});

export type MongoWriterConfig = z.output<typeof mongoWriterEnv>;
