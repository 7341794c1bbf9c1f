import 'reflect-metadata';
import { runWriter } from '@dataflow/messaging';
import { DbWriterModule } from './db-writer.module';

runWriter('db-writer', () => DbWriterModule.forRoot(), 'DB_WRITER_PORT');
