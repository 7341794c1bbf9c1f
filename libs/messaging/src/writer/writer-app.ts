import type { INestApplication, Type } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type { AppDefinition } from '@dataflow/app-shell';
import type { PolicyOptions } from '@dataflow/resilience';
import type { Sink } from '@dataflow/contracts';
import { prefetchFor } from './held-records';
import type { RecordStore } from './record-writer';
import { writerValues } from './writer-env';
import { RecordsConsumer } from './records.consumer';
import { RecordsRmqServer } from '../transport/records-rmq.server';
import { WriterReadiness } from './writer-readiness';
import { writerProviders } from './writer.providers';

/** A writer app: the app shell's parts plus its store, its queue and its variables' prefix. */
export interface WriterDefinition<Config extends Record<string, unknown>> extends Omit<
  AppDefinition<Config>,
  'readiness' | 'controllers' | 'providers' | 'configure' | 'tokenVariables' | 'policies'
> {
  /** Of its own variables: the shared ones (writerVariables) are read as `<prefix>_BATCH_SIZE` and so on. */
  readonly prefix: string;
  /** The sink whose queues (all its partitions) it consumes. */
  readonly sink: Sink;
  readonly store: Type<RecordStore>;
  /** The name of its store's policy. */
  readonly policy: string;
  /** What its store adds to the shared policy shape: which errors count, a timeout per attempt. */
  readonly storePolicy?: (config: ConfigService<Config, true>) => Partial<PolicyOptions>;
}

/**
 * What the two writers share around their store: the records consumer on their queue (started by
 * the shell after the app has initialised, so no message meets an unprotected store), the
 * RecordWriter with its batching and prefetch from the shared variables, the store's policy
 * (retried until it works or the breaker opens; then the messages go back to the queue and the
 * writer pauses until its database answers: see RecordWriter), and readiness. A writer has no
 * token: loopback unless LISTEN_HOST widens it.
 */
export function writerApp<Config extends Record<string, unknown>>(
  writer: WriterDefinition<Config>,
): AppDefinition<Config> {
  const { prefix, sink, store, policy, storePolicy, ...app } = writer;
  const values = (config: ConfigService<Config, true>) =>
    writerValues(prefix, (name) => (config as unknown as ConfigService).get<unknown>(name));
  return {
    ...app,
    policies: (config) => {
      const shared = values(config);
      return {
        [policy]: {
          retry: {
            maxAttempts: Number.POSITIVE_INFINITY,
            initialDelayMs: 100,
            maxDelayMs: shared.RETRY_MAX_MS,
            whileOpen: true,
          },
          breaker: { consecutiveFailures: shared.BREAKER_FAILURES, halfOpenAfterMs: shared.BREAKER_HALF_OPEN_MS },
          ...storePolicy?.(config),
        },
      };
    },
    readiness: WriterReadiness,
    controllers: [RecordsConsumer],
    providers: writerProviders(store, (config: ConfigService<Config, true>) => {
      const shared = values(config);
      const untyped = config as unknown as ConfigService;
      const partitions = untyped.getOrThrow<number>('RECORD_PARTITIONS');
      const { REPLICAS: replicas } = shared;
      // Unpartitioned, there is one queue per sink and nothing to share out: no preference.
      const ordinal = partitions > 1 ? shared.ORDINAL : undefined;
      return {
        rabbitmqUrl: untyped.getOrThrow<string>('RABBITMQ_URL'),
        sink,
        partitions,
        prefetch: prefetchFor(shared.MAX_HELD_RECORDS, shared.PREFETCH),
        ordinal,
        replicas,
        rebalanceMs: shared.REBALANCE_MS,
        policy,
        batchSize: shared.BATCH_SIZE,
        batchMs: shared.BATCH_MS,
        shutdownTimeoutMs: untyped.getOrThrow<number>('SHUTDOWN_TIMEOUT_SECONDS') * 1000,
        commitLog: shared.COMMIT_LOG,
      };
    }),
    configure: connectRecordsConsumer,
  };
}

/** Connects the app's RecordsRmqServer as its message consumer (started by the shell after init). */
export function connectRecordsConsumer(nest: INestApplication): void {
  nest.connectMicroservice({ strategy: nest.get(RecordsRmqServer) }, { inheritAppConfig: true });
}
