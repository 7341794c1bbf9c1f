import { POSTGRES_QUEUE } from '@dataflow/contracts';
import type * as DbWriter from '../../apps/db-writer/src/db-writer.module';
import { load } from './boot';
import { describeWriterModule } from './writer-module';

describeWriterModule({
  app: 'db-writer',
  definition: async () => (await load<typeof DbWriter>('../../apps/db-writer/src/db-writer.module')).dbWriterApp,
  portVariable: 'DB_WRITER_PORT',
  port: 3803,
  queue: POSTGRES_QUEUE,
  sink: 'postgres',
  operation: 'postgres.store',
  databaseCheck: 'postgres',
  stored: (stores, source) => stores.postgresRows(source),
});
