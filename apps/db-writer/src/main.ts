import 'reflect-metadata';
import { runShell } from '@dataflow/app-shell';
import { dbWriterApp } from './db-writer.module';

runShell(dbWriterApp);
