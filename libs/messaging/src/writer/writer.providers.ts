import type { InjectionToken, Provider, Type } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { RecordSink } from '@dataflow/contracts';
import { DataflowMetrics } from '@dataflow/observability';
import { PolicyRegistry } from '@dataflow/resilience';
import { RecordWriter, type RecordStore } from './record-writer';
import { RecordsRmqServer } from '../transport/records-rmq.server';
import { DECODE_FAILURE_REASONS } from '../transport/records-message.codec';
import { RECORD_STORE } from './writer-readiness';

/** What distinguishes one writer from the other, read from its validated configuration. */
export interface WriterSettings {
  readonly rabbitmqUrl: string;
  readonly sink: RecordSink;
  readonly partitions: number;
  /** Of each partition's consumer. */
  readonly prefetch: number;
  /** This writer's place among the `replicas` writers of its sink (see RecordsServerOptions); unset: none. */
  readonly ordinal: number | undefined;
  readonly replicas: number;
  /** How often it hands back a partition it does not prefer. */
  readonly rebalanceMs: number;
  readonly policy: string;
  readonly batchSize: number;
  readonly batchMs: number;
  readonly shutdownTimeoutMs: number;
  readonly commitLog?: string;
}

const WRITER_SETTINGS = Symbol('WRITER_SETTINGS');

/**
 * Everything a writer app provides around its store: the RMQ server on its queue and the
 * RecordWriter under the store's policy (see writerApp).
 */
export function writerProviders<Config extends Record<string, unknown>>(
  store: Type<RecordStore>,
  settings: (config: ConfigService<Config, true>) => WriterSettings,
): Provider[];
/** The same, with the settings made from other providers (`inject`) than the configuration. */
export function writerProviders<Deps extends unknown[]>(
  store: Type<RecordStore>,
  settings: (...deps: Deps) => WriterSettings,
  inject: InjectionToken[],
): Provider[];
export function writerProviders(
  store: Type<RecordStore>,
  // The overloads above type the arguments (never[]: any factory's parameters fit); Nest passes the
  // injected values in the order of `inject`.
  settings: (...deps: never[]) => WriterSettings,
  inject: InjectionToken[] = [ConfigService],
): Provider[] {
  return [
    { provide: WRITER_SETTINGS, inject, useFactory: settings as (...deps: unknown[]) => WriterSettings },
    store,
    { provide: RECORD_STORE, useExisting: store },
    {
      provide: RecordsRmqServer,
      inject: [WRITER_SETTINGS, DataflowMetrics],
      useFactory: (s: WriterSettings, metrics: DataflowMetrics) => {
        metrics.declareRejections([...DECODE_FAILURE_REASONS, 'store_refused']);
        return new RecordsRmqServer({
          url: s.rabbitmqUrl,
          sink: s.sink,
          partitions: s.partitions,
          prefetch: s.prefetch,
          ordinal: s.ordinal,
          replicas: s.replicas,
          rebalanceMs: s.rebalanceMs,
          onDeadLetter: (reason) => metrics.recordRejected(reason),
        });
      },
    },
    {
      provide: RecordWriter,
      inject: [WRITER_SETTINGS, RecordsRmqServer, PolicyRegistry, RECORD_STORE, DataflowMetrics],
      useFactory: (
        s: WriterSettings,
        server: RecordsRmqServer,
        registry: PolicyRegistry,
        target: RecordStore,
        metrics: DataflowMetrics,
      ) => new RecordWriter(server, registry.get(s.policy), target, metrics, s),
    },
  ];
}
