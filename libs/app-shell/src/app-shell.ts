import type { DynamicModule, INestApplication, ModuleMetadata, Provider, Type } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { Logger } from 'nestjs-pino';
import type { z } from 'zod';
import { listenHost, runApp, validateEnv } from '@dataflow/config';
import {
  HealthController,
  ObservabilityModule,
  READINESS,
  startupLogger,
  type Readiness,
} from '@dataflow/observability';
import { ResilienceModule, type PolicyCatalogue } from '@dataflow/resilience';

/**
 * What makes one app different from the others. Everything else is the same for the four and is
 * done here once: validated configuration, logs, metrics and tracing, the resilience policies,
 * `/health/live` and `/health/ready`, the start-up order, the listening address and the signals.
 */
export interface AppDefinition<Config extends Record<string, unknown>> {
  /** The app's name: the `app` label of its metrics and field of its log lines. */
  readonly name: string;
  /** The root module's class (its own `configure()` may add middleware). */
  readonly module: Type;
  /** The schema of its environment variables (checked when the root module is built). */
  readonly env: z.ZodObject;
  /** Its dependencies' policies, from its configuration. */
  readonly policies: (config: ConfigService<Config, true>) => PolicyCatalogue;
  /** What `/health/ready` checks. */
  readonly readiness: Type<Readiness>;
  /** The variable holding its HTTP port. */
  readonly portVariable: keyof Config & string;
  /**
   * The variables of its tokens: with all of them set it listens on all interfaces by default,
   * otherwise on loopback only (see listenHost). None: loopback unless LISTEN_HOST widens it.
   */
  readonly tokenVariables?: ReadonlyArray<keyof Config & string>;
  readonly imports?: ModuleMetadata['imports'];
  readonly controllers?: Type[];
  readonly providers?: Provider[];
  /** Transports to set up before the app initialises: a WebSocket adapter, a message consumer. */
  readonly configure?: (nest: INestApplication) => void;
}

/** The app's root module. The environment is validated here: call it inside the bootstrap. */
export async function appModule<Config extends Record<string, unknown>>(
  app: AppDefinition<Config>,
): Promise<DynamicModule> {
  const config = await ConfigModule.forRoot({ isGlobal: true, cache: true, validate: validateEnv(app.env) });
  return {
    module: app.module,
    imports: [
      config,
      ObservabilityModule.forRoot({ app: app.name }),
      ResilienceModule.forRootAsync({ inject: [ConfigService], useFactory: app.policies }),
      TerminusModule,
      ...(app.imports ?? []),
    ],
    controllers: [HealthController, ...(app.controllers ?? [])],
    providers: [{ provide: READINESS, useClass: app.readiness }, ...(app.providers ?? [])],
  };
}

/**
 * Starts an app created from {@link appModule} (by `runShell`, or by a test from a testing
 * module). The order matters and lives only here: transports are set up, the app initialises
 * (aspects woven onto providers, migrations and indexes done), then message consumers start, so
 * no message meets an unprotected store, and the HTTP port opens last.
 */
export async function startApp<Config extends Record<string, unknown>>(
  nest: INestApplication,
  app: AppDefinition<Config>,
): Promise<INestApplication> {
  nest.useLogger(nest.get(Logger));
  app.configure?.(nest);
  await nest.init();
  await nest.startAllMicroservices();
  const config = nest.get<ConfigService<Config, true>>(ConfigService);
  const tokens = app.tokenVariables ?? [];
  const tokensSet = tokens.length > 0 && tokens.every((name) => config.get(name) !== undefined);
  await nest.listen(
    config.getOrThrow<number>(app.portVariable),
    listenHost(config.get<string>('LISTEN_HOST'), tokensSet),
  );
  return nest;
}

/** The process of an app: see runApp (signals, exit codes) and {@link startApp}. */
export function runShell<Config extends Record<string, unknown>>(app: AppDefinition<Config>): void {
  runApp(app.name, async () => {
    // Not bufferLogs: a writer's creation waits for its database, and its attempts must show meanwhile.
    const nest = await NestFactory.create(await appModule(app), {
      logger: startupLogger(app.name),
      abortOnError: false,
    });
    return startApp(nest, app);
  });
}
