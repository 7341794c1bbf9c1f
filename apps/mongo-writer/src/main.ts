import 'reflect-metadata';
import { runWriter } from '@dataflow/messaging';
import { MongoWriterModule } from './mongo-writer.module';

runWriter('mongo-writer', () => MongoWriterModule.forRoot(), 'MONGO_WRITER_PORT');
