import type { DynamicModule } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { runApp } from '@dataflow/config';
import { RecordsRmqServer } from './records-rmq.server';

/**
 * Starts a writer app (see `runApp` for signals and exit codes): HTTP for health and metrics on the
 * port in `portVariable`, and the records consumer. The order matters and lives only here: the app
 * is initialised first (policies wrapped onto the store by `@Resilient`, indexes and migrations
 * done), and only then does consuming start, so no message ever meets an unprotected store.
 */
export function runWriter(app: string, rootModule: () => Promise<DynamicModule>, portVariable: string): void {
  runApp(app, async () => {
    const nest = await NestFactory.create(await rootModule(), { bufferLogs: true, abortOnError: false });
    nest.useLogger(nest.get(Logger));
    nest.connectMicroservice({ strategy: nest.get(RecordsRmqServer) }, { inheritAppConfig: true });
    await nest.init();
    await nest.startAllMicroservices();
    const port = nest.get(ConfigService).getOrThrow<number>(portVariable);
    await nest.listen(port, '0.0.0.0');
    return nest;
  });
}
