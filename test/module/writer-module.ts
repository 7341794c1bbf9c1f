import type { INestApplication } from '@nestjs/common';
import type { AppDefinition } from '@dataflow/app-shell';
import type { DataRecord } from '@dataflow/contracts';
import type * as MessagingLib from '@dataflow/messaging';
import { waitFor } from '../support/app-process';
import { RabbitProbe } from '../support/rabbit';
import { makeRecord } from '../support/records';
import { queueCount } from '../../scripts/kit/services';
import { Stores } from '../support/stores';
import { bootApp, isWoven, load, metric } from './boot';

/** What tells one writer's module spec from the other's. */
export interface WriterModuleCase<Config extends Record<string, unknown>> {
  readonly app: string;
  /** Loads the writer's app definition (at run time: see boot.ts). */
  readonly definition: () => Promise<AppDefinition<Config>>;
  readonly portVariable: string;
  readonly port: number;
  readonly queue: string;
  /** Its store's sink label, breaker and `@Timed`/`@Counted` operation. */
  readonly sink: string;
  readonly operation: string;
  /** The readiness check of its database. */
  readonly databaseCheck: string;
  /** What its database holds of `source`, in order. */
  readonly stored: (stores: Stores, source: string) => Promise<DataRecord[]>;
}

/**
 * A writer's module booted in this process against RabbitMQ and its database: the store's aspects
 * woven, the handler's interceptors bound (the message acknowledged, `records.handle` timed), every
 * metric present from the start and counted once a message is stored.
 */
export function describeWriterModule<Config extends Record<string, unknown>>(writer: WriterModuleCase<Config>): void {
  describe(`${writer.app} module (module tier)`, () => {
    let app: INestApplication;
    let messaging: typeof MessagingLib;
    let rabbit: RabbitProbe;
    let stores: Stores;
    const source = `module-${writer.app}-${Date.now()}`;

    beforeAll(async () => {
      rabbit = await RabbitProbe.connect();
      await rabbit.declare();
      await rabbit.purgeAll();
      stores = await Stores.connect();
      messaging = await load<typeof MessagingLib>('@dataflow/messaging');
      app = await bootApp(await writer.definition(), { [writer.portVariable]: String(writer.port) });
    });

    afterAll(async () => {
      await app?.close();
      await rabbit?.purgeAll();
      await rabbit?.close();
      await stores?.close();
    });

    it('weaves the store’s policy and metrics and shows their series from the start', async () => {
      expect(isWoven(app.get(messaging.RECORD_STORE), 'store')).toBe(true);
      expect(isWoven(app.get(messaging.RecordWriter), 'store')).toBe(true);
      expect(await metric('dataflow_operations_total', { operation: writer.operation, outcome: 'ok' })).toBe(0);
      expect(await metric('dataflow_operation_duration_seconds_count', { operation: writer.operation })).toBe(0);
      expect(await metric('dataflow_operation_duration_seconds_count', { operation: 'records.handle' })).toBe(0);
      expect(await metric('dataflow_circuit_state', { breaker: writer.sink })).toBe(0);
      expect(await metric('dataflow_retries_total', { operation: writer.sink })).toBe(0);
    });

    it('consumes a message through the handler’s interceptors, stores it and acknowledges it', async () => {
      await waitFor(
        async () => (await queueCount(writer.queue, 'consumers')) === 1,
        20_000,
        `the ${writer.app} to consume`,
      );
      const records = [1, 2, 3].map((seq) => makeRecord(source, seq, 95));
      await rabbit.publishRecords(records);
      await waitFor(async () => (await writer.stored(stores, source)).length === 3, 20_000, 'three records stored');
      await waitFor(
        async () => (await queueCount(writer.queue, 'unacknowledged')) === 0,
        10_000,
        'the message acknowledged',
      );
      expect(await rabbit.depth(writer.queue)).toBe(0);
      expect(await writer.stored(stores, source)).toEqual(records);
      // The handler's own aspects (AspectInterceptor), the store's (AspectExplorer), the writer's metrics.
      expect(await metric('dataflow_operation_duration_seconds_count', { operation: 'records.handle' })).toBe(1);
      expect(await metric('dataflow_operations_total', { operation: writer.operation, outcome: 'ok' })).toBe(1);
      expect(await metric('dataflow_records_total', { stage: 'store', outcome: 'stored' })).toBe(3);
      expect(await metric('dataflow_sink_write_duration_seconds_count', { sink: writer.sink })).toBe(1);
    });

    it('answers readiness over HTTP with every check up', async () => {
      const response = await fetch(`http://127.0.0.1:${writer.port}/health/ready`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { info: Record<string, { status: string }> };
      expect(Object.keys(body.info).sort()).toEqual(['breakers', 'consumer', writer.databaseCheck, 'rabbitmq'].sort());
    });
  });
}
