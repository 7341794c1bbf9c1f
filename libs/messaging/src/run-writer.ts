import type { DynamicModule } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { listenHost, runApp } from '@dataflow/config';
import { startupLogger } from '@dataflow/observability';
import { RecordsRmqServer } from './records-rmq.server';

/**
 * Starts a writer app (see `runApp` for signals and exit codes): HTTP for health and metrics on the
 * port in `portVariable`, and the records consumer. The order matters and lives only here: the app
 * is initialised first (policies wrapped onto the store by `@Resilient`, indexes and migrations
 * done), and only then does consuming start, so no message ever meets an unprotected store.
 */
export function runWriter(app: string, rootModule: () => Promise<DynamicModule>, portVariable: string): void {
  runApp(app, async () => {
    // Not bufferLogs: creation waits for the database, and its connection attempts must show meanwhile.
    const nest = await NestFactory.create(await rootModule(), { logger: startupLogger(app), abortOnError: false });
    nest.useLogger(nest.get(Logger));
    nest.connectMicroservice({ strategy: nest.get(RecordsRmqServer) }, { inheritAppConfig: true });
    await nest.init();
    await nest.startAllMicroservices();
    const port = nest.get(ConfigService).getOrThrow<number>(portVariable);
    // A writer has no token: loopback unless LISTEN_HOST widens it (compose, Kubernetes).
    await nest.listen(port, listenHost(nest.get(ConfigService).get<string>('LISTEN_HOST'), false));
    return nest;
  });
}
