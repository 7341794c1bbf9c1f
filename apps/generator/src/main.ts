import 'reflect-metadata';
import { runShell } from '@dataflow/app-shell';
import { generatorApp } from './generator.module';

runShell(generatorApp);
