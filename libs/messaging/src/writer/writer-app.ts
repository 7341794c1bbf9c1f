import type { INestApplication, Type } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type { AppDefinition } from '@dataflow/app-shell';
import type { RecordStore } from './record-writer';
import { RecordsConsumer } from './records.consumer';
import { RecordsRmqServer } from '../transport/records-rmq.server';
import { WriterReadiness } from './writer-readiness';
import { writerProviders, type WriterSettings } from './writer.providers';

/** A writer app: the app shell's parts plus its store and its queue settings. */
export interface WriterDefinition<Config extends Record<string, unknown>> extends Omit<
  AppDefinition<Config>,
  'readiness' | 'controllers' | 'providers' | 'configure' | 'tokenVariables'
> {
  readonly store: Type<RecordStore>;
  readonly settings: (config: ConfigService<Config, true>) => WriterSettings;
}

/**
 * What the two writers share around their store: the records consumer on their queue (started by
 * the shell after the app has initialised, so no message meets an unprotected store), the
 * RecordWriter, and readiness. A writer has no token: loopback unless LISTEN_HOST widens it.
 */
export function writerApp<Config extends Record<string, unknown>>(
  writer: WriterDefinition<Config>,
): AppDefinition<Config> {
  const { store, settings, ...app } = writer;
  return {
    ...app,
    readiness: WriterReadiness,
    controllers: [RecordsConsumer],
    providers: writerProviders(store, settings),
    configure: connectRecordsConsumer,
  };
}

function connectRecordsConsumer(nest: INestApplication): void {
  nest.connectMicroservice({ strategy: nest.get(RecordsRmqServer) }, { inheritAppConfig: true });
}
