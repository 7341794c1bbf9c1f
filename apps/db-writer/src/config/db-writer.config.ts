import type { z } from 'zod';
import { integer, port, url } from '@dataflow/config';
import { writerEnv } from '@dataflow/messaging/writer/writer-env';

/** The prefix of the db-writer's own variables (the shared ones: see writerVariables). */
export const DB_WRITER = 'DB_WRITER';

export const dbWriterEnv = writerEnv(DB_WRITER, {
  DB_WRITER_PORT: port(3003),
  DATABASE_URL: url('postgres://postgres:postgres@127.0.0.1:5432/dataflow', ['postgres:', 'postgresql:']),
  DB_WRITER_POOL_SIZE: integer(4, 1, 100),
  DB_WRITER_STATEMENT_TIMEOUT_MS: integer(30_000, 100, 600_000),
});

export type DbWriterConfig = z.output<typeof dbWriterEnv>;
