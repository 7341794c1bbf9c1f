import 'reflect-metadata';
import { runShell } from '@dataflow/app-shell';
import { filterApp } from './filter.module';

runShell(filterApp);
