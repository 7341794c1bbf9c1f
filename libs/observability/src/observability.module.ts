import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { LoggerModule } from 'nestjs-pino';
import { AspectExplorer } from './aspects/aspect.explorer';
import { AspectInterceptor } from './aspects/aspect.interceptor';
import { MethodAspects } from './aspects/method-aspects';
import { ObservabilityAspects } from './aspects/observability.aspects';
import { DataflowMetrics } from './dataflow-metrics';
import { LoggingInterceptor } from './logging.interceptor';
import { metricProviders } from './metrics.providers';
import { APP_NAME } from './observability.tokens';
import { redactText } from './redact';
import { activeTraceIds, startTracing } from './tracing/tracing';
import type { TracingHandle } from './tracing/tracing';

const TRACING = Symbol('TRACING');

/** Flushes spans still buffered for export when the app closes. */
@Injectable()
class TracingShutdown implements OnApplicationShutdown {
  constructor(@Inject(TRACING) private readonly tracing: TracingHandle) {}

  async onApplicationShutdown(): Promise<void> {
    await this.tracing.shutdown();
  }
}

export interface ObservabilityOptions {
  /** The app's name: the `app` label of every metric and the `app` field of every log line. */
  readonly app: string;
}

/**
 * JSON logs (pino), Prometheus metrics at `/metrics` with the contract's metric names and the
 * process defaults, the logging interceptor on every handler, and the one reader of method aspects
 * (`@Traced`, `@Counted`, `@Timed` here, `@Resilient` from the resilience library; see
 * aspects/method-aspect.ts).
 */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions): DynamicModule {
    // Before any provider runs, so every span and log line can carry trace context.
    const tracing = startTracing(options.app);
    return {
      module: ObservabilityModule,
      imports: [
        DiscoveryModule,
        LoggerModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            pinoHttp: {
              level: config.get<string>('LOG_LEVEL') ?? 'info',
              base: { app: options.app },
              // Health probes and scrapes would drown everything else.
              autoLogging: { ignore: (req) => /^\/(health|metrics)/.test(req.url ?? '') },
              // Load shed with 503 (a full /tail, say) is counted and logged, sampled, by whoever shed
              // it: a line per refused request would let a flood of requests write the log.
              customLogLevel: (_req, res) => (res.statusCode === 503 ? 'silent' : 'info'),
              redact: ['req.headers.authorization', 'req.headers.cookie', 'req.query.token'],
              // The URL of a request carries its query string too (a client may put a token there).
              serializers: {
                req: (req: { url?: string }) => {
                  if (typeof req.url === 'string') req.url = redactText(req.url);
                  return req;
                },
              },
              formatters: { level: (label: string) => ({ level: label }) },
              // The W3C trace id of the work in hand is the correlation id of the log line.
              mixin: () => activeTraceIds(),
              // Drivers put connection strings into their messages; no password reaches a log line.
              hooks: {
                logMethod(args, method) {
                  method.apply(
                    this,
                    args.map((arg: unknown) => (typeof arg === 'string' ? redactText(arg) : arg)) as Parameters<
                      typeof method
                    >,
                  );
                },
              },
            },
          }),
        }),
        PrometheusModule.register({
          path: '/metrics',
          // prom-client's event-loop delay monitor wakes the process every 10 ms (its resolution),
          // about 0.4 % of a core per idle app here, and its values include that resolution. A
          // coarser one saves the CPU but raises every reported delay by as much and hides the
          // shorter ones, so the default stays (docs/performance.md, idle CPU).
          defaultMetrics: { enabled: true },
          defaultLabels: { app: options.app },
        }),
      ],
      providers: [
        { provide: APP_NAME, useValue: options.app },
        { provide: TRACING, useValue: tracing },
        TracingShutdown,
        ...metricProviders,
        DataflowMetrics,
        { provide: MethodAspects, useValue: new MethodAspects() },
        ObservabilityAspects,
        AspectExplorer,
        // In this order: a handler's log lines belong to its span.
        { provide: APP_INTERCEPTOR, useClass: AspectInterceptor },
        { provide: APP_INTERCEPTOR, useClass: LoggingInterceptor },
      ],
      exports: [APP_NAME, DataflowMetrics, MethodAspects, ...metricProviders],
    };
  }
}
