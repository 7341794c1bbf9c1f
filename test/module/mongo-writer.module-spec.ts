import { MONGO_QUEUE } from '@dataflow/contracts';
import type * as MongoWriter from '../../apps/mongo-writer/src/mongo-writer.module';
import { flatten } from '../support/stores';
import { load } from './boot';
import { describeWriterModule } from './writer-module';

describeWriterModule({
  app: 'mongo-writer',
  definition: async () =>
    (await load<typeof MongoWriter>('../../apps/mongo-writer/src/mongo-writer.module')).mongoWriterApp,
  portVariable: 'MONGO_WRITER_PORT',
  port: 3804,
  queue: MONGO_QUEUE,
  sink: 'mongodb',
  operation: 'mongodb.store',
  databaseCheck: 'mongodb',
  stored: async (stores, source) => flatten(await stores.mongoDocuments(source)),
});
