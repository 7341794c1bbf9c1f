import 'reflect-metadata';
import { runShell } from '@dataflow/app-shell';
import { mongoWriterApp } from './mongo-writer.module';

runShell(mongoWriterApp);
