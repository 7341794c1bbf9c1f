import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppProcess, waitFor } from '../support/app-process';
import { RabbitProbe } from '../support/rabbit';
import {
  ferretdbStart,
  ferretdbStop,
  postgresStart,
  postgresStop,
  rabbitmqStart,
  rabbitmqStop,
} from '../../scripts/kit/services';

/** CONTRACT.md §7: the metric names every app serves. */
const CONTRACT_METRICS = [
  'dataflow_records_total',
  'dataflow_records_rejected_total',
  'dataflow_sink_write_duration_seconds',
  'dataflow_circuit_state',
  'dataflow_retries_total',
];

/** Milliseconds until `app`'s readiness answers `status`. */
async function readinessTurns(app: AppProcess, status: number): Promise<number> {
  const started = performance.now();
  await waitFor(
    // Longer than the readiness checks' own 2 s timeout: a database that hangs (rather than refuses)
    // answers 503 only after it, and an answer cut off first would never be seen.
    async () => (await app.get('/health/ready', 5000)).status === status,
    30_000,
    `${app.name} ready = ${status}`,
  );
  return Math.round(performance.now() - started);
}

/**
 * The four apps running together: every app serves the contract's metrics with live values, and
 * each app's readiness follows its dependencies down and back up. The times are printed (they are
 * the figures behind "503 within 5 s, 200 within 5 s"); the assertions allow slack for a loaded
 * machine.
 */
describe('operations: metrics and readiness of the running system', () => {
  const apps: AppProcess[] = [];
  let rabbit: RabbitProbe;
  const timings: string[] = [];

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
    await rabbit.purgeAll();
  });

  afterAll(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
    await rabbit.reopen();
    await rabbit.purgeAll();
    await rabbit.close();
    process.stdout.write(`readiness transitions (ms):\n  ${timings.join('\n  ')}\n`);
  });

  it('serves every contract metric with live values, and readiness follows each dependency', async () => {
    const source = `ops-${process.pid}`;
    const env = { DB_WRITER_BREAKER_HALF_OPEN_MS: '1000', MONGO_WRITER_BREAKER_HALF_OPEN_MS: '1000' };
    const dbWriter = await new AppProcess('db-writer', 3603, env).start();
    const mongoWriter = await new AppProcess('mongo-writer', 3604, env).start();
    const filterEnv = { FILTER_OUTPUT_DIR: mkdtempSync(join(tmpdir(), 'dataflow-ops-')), FILTER_THRESHOLD: '50' };
    let filter = await new AppProcess('filter', 3602, filterEnv).start();
    const generator = await new AppProcess('generator', 3601, {
      GENERATOR_ID: source,
      GENERATOR_RATE: '200',
      GENERATOR_STATE_DIR: mkdtempSync(join(tmpdir(), 'dataflow-ops-gen-')),
      FILTER_WS_URL: 'ws://127.0.0.1:3602/ingest',
      GENERATOR_RECONNECT_MAX_MS: '1000',
      GENERATOR_BREAKER_HALF_OPEN_MS: '1000',
    }).start();
    apps.push(generator, filter, dbWriter, mongoWriter);
    for (const app of apps) await readinessTurns(app, 200);
    await waitFor(
      async () => (await dbWriter.metric('dataflow_records_total', { stage: 'store', outcome: 'stored' })) > 100,
      60_000,
      'records stored',
    );

    for (const app of apps) {
      const { body } = await app.get('/metrics');
      for (const name of CONTRACT_METRICS)
        expect(`${app.name}: ${String(body.includes(`\n${name}`))}`).toBe(`${app.name}: true`);
      expect(await app.metric('dataflow_records_total', { app: app.name })).toBeGreaterThan(0);
      expect(body).toMatch(/\nprocess_resident_memory_bytes/);
    }
    expect(await filter.metric('dataflow_sink_write_duration_seconds_count', { sink: 'rabbitmq' })).toBeGreaterThan(0);
    expect(await filter.metric('dataflow_sink_write_duration_seconds_count', { sink: 'file' })).toBeGreaterThan(0);
    expect(await filter.metric('dataflow_ws_frame_duration_seconds_count', { outcome: 'acked' })).toBeGreaterThan(0);
    expect(await dbWriter.metric('dataflow_sink_write_duration_seconds_count', { sink: 'postgres' })).toBeGreaterThan(
      0,
    );
    expect(await mongoWriter.metric('dataflow_end_to_end_latency_seconds_count', { sink: 'mongodb' })).toBeGreaterThan(
      0,
    );

    // RabbitMQ: the filter and both writers.
    await rabbitmqStop();
    try {
      const down = await Promise.all([filter, dbWriter, mongoWriter].map((app) => readinessTurns(app, 503)));
      timings.push(`rabbitmq down: filter ${down[0]}, db-writer ${down[1]}, mongo-writer ${down[2]}`);
      for (const ms of down) expect(ms).toBeLessThan(10_000);
    } finally {
      await rabbitmqStart();
    }
    const up = await Promise.all([filter, dbWriter, mongoWriter].map((app) => readinessTurns(app, 200)));
    timings.push(`rabbitmq up: filter ${up[0]}, db-writer ${up[1]}, mongo-writer ${up[2]}`);
    for (const ms of up) expect(ms).toBeLessThan(20_000);

    // PostgreSQL: the db-writer.
    await postgresStop();
    try {
      const ms = await readinessTurns(dbWriter, 503);
      timings.push(`postgres down: db-writer ${ms}`);
      expect(ms).toBeLessThan(10_000);
    } finally {
      await postgresStart();
    }
    const pgUp = await readinessTurns(dbWriter, 200);
    timings.push(`postgres up: db-writer ${pgUp}`);
    expect(pgUp).toBeLessThan(20_000);

    // FerretDB: the mongo-writer.
    await ferretdbStop();
    try {
      const ms = await readinessTurns(mongoWriter, 503);
      timings.push(`ferretdb down: mongo-writer ${ms}`);
      expect(ms).toBeLessThan(10_000);
    } finally {
      await ferretdbStart();
    }
    const ferretUp = await readinessTurns(mongoWriter, 200);
    timings.push(`ferretdb up: mongo-writer ${ferretUp}`);
    expect(ferretUp).toBeLessThan(20_000);

    // The filter: the generator.
    await filter.stop();
    const genDown = await readinessTurns(generator, 503);
    timings.push(`filter down: generator ${genDown}`);
    expect(genDown).toBeLessThan(10_000);
    filter = await new AppProcess('filter', 3602, filterEnv).start();
    apps[1] = filter;
    const genUp = await readinessTurns(generator, 200);
    timings.push(`filter up (after its start): generator ${genUp}`);
    expect(genUp).toBeLessThan(20_000);
  });
});
