import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { POSTGRES_QUEUE } from '@dataflow/contracts';
import type * as Filter from '../../apps/filter/src/filter.module';
import type * as Ingest from '../../apps/filter/src/ingest/ingest.service';
import type * as Pipeline from '../../apps/filter/src/pipeline/record-pipeline.service';
import type * as Files from '../../apps/filter/src/sinks/file-sink.service';
import type * as Leg from '../../apps/filter/src/sinks/file-leg';
import type * as Queue from '../../apps/filter/src/sinks/queue-sink.service';
import { waitFor } from '../support/app-process';
import { IngestClient } from '../support/ingest-client';
import { RabbitProbe } from '../support/rabbit';
import { makeRecord, readFileSink } from '../support/records';
import { bootApp, isWoven, load, metric } from './boot';

/** The filter's module booted in this process against RabbitMQ: its wiring, from a frame to both sinks. */
describe('filter module (module tier)', () => {
  let app: INestApplication;
  let rabbit: RabbitProbe;
  let client: IngestClient | undefined;
  const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-module-filter-'));
  const source = `module-filter-${Date.now()}`;

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
    await rabbit.declare();
    await rabbit.purgeAll();
    const { filterApp } = await load<typeof Filter>('../../apps/filter/src/filter.module');
    app = await bootApp(filterApp, {
      FILTER_PORT: '3802',
      FILTER_OUTPUT_DIR: outputDir,
      FILTER_FLUSH_INTERVAL_MS: '50',
    });
  });

  afterAll(async () => {
    client?.close();
    await app?.close();
    await rabbit?.purgeAll();
    await rabbit?.close();
    rmSync(outputDir, { recursive: true, force: true });
  });

  it('weaves spans, policies and metrics onto the pipeline and the sinks, with their series from the start', async () => {
    const { IngestService } = await load<typeof Ingest>('../../apps/filter/src/ingest/ingest.service');
    const { RecordPipeline } = await load<typeof Pipeline>('../../apps/filter/src/pipeline/record-pipeline.service');
    const { FileSink } = await load<typeof Files>('../../apps/filter/src/sinks/file-sink.service');
    const { FileLeg } = await load<typeof Leg>('../../apps/filter/src/sinks/file-leg');
    const { QueueSink } = await load<typeof Queue>('../../apps/filter/src/sinks/queue-sink.service');
    expect(isWoven(app.get(IngestService), 'receive')).toBe(true);
    expect(isWoven(app.get(RecordPipeline), 'handOff')).toBe(true);
    // Unpartitioned, the file leg is the filter's own buffered files.
    const fileLeg = app.get(FileLeg);
    expect(fileLeg).toBeInstanceOf(FileSink);
    expect(isWoven(fileLeg, 'writeChunks')).toBe(true);
    expect(isWoven(app.get(QueueSink), 'confirmedPublish')).toBe(true);
    for (const operation of ['rabbitmq.publish', 'file.write']) {
      expect(await metric('dataflow_operations_total', { operation, outcome: 'ok' })).toBe(0);
      expect(await metric('dataflow_operation_duration_seconds_count', { operation })).toBe(0);
    }
    expect(await metric('dataflow_circuit_state', { breaker: 'rabbitmq' })).toBe(0);
    expect(await metric('dataflow_circuit_state', { breaker: 'filesystem' })).toBe(0);
  });

  it('takes a frame through its WebSocket adapter and gateway to the queue and the file, then acknowledges it', async () => {
    client = await IngestClient.open('ws://127.0.0.1:3802/ingest');
    const records = [makeRecord(source, 1, 95), makeRecord(source, 2, 10)];
    client.sendRecords(records);
    await client.waitAcked(source, [1, 2]);
    expect(await metric('dataflow_operations_total', { operation: 'rabbitmq.publish', outcome: 'ok' })).toBe(1);
    expect(await metric('dataflow_operations_total', { operation: 'file.write', outcome: 'ok' })).toBe(1);
    expect(await metric('dataflow_ws_frame_duration_seconds_count', { outcome: 'acked' })).toBe(1);
    await waitFor(async () => (await rabbit.depth(POSTGRES_QUEUE)) === 1, 10_000, 'the message in the queue');
    expect(readFileSink(outputDir).filter((record) => record.source === source)).toEqual([records[1]]);
  });
});
