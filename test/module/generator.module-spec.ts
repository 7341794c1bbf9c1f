import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type * as Generator from '../../apps/generator/src/generator.module';
import type * as Link from '../../apps/generator/src/delivery/filter-link.service';
import { waitFor } from '../support/app-process';
import { bootApp, isWoven, load, metric } from './boot';

/** The generator's module booted in this process, with no filter to send to: its wiring. */
describe('generator module (module tier)', () => {
  let app: INestApplication;
  const stateDir = mkdtempSync(join(tmpdir(), 'dataflow-module-generator-'));

  beforeAll(async () => {
    const { generatorApp } = await load<typeof Generator>('../../apps/generator/src/generator.module');
    app = await bootApp(generatorApp, {
      GENERATOR_PORT: '3801',
      GENERATOR_STATE_DIR: stateDir,
      GENERATOR_ID: 'module-generator',
      // Nothing listens there: every delivery fails and the breaker opens.
      FILTER_WS_URL: 'ws://127.0.0.1:3899/ingest',
      GENERATOR_BREAKER_FAILURES: '2',
      GENERATOR_RECONNECT_MIN_MS: '20',
      GENERATOR_RECONNECT_MAX_MS: '200',
    });
  });

  afterAll(async () => {
    await app?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('weaves the delivery’s span and timing and shows its series from the start', async () => {
    const { FilterLink } = await load<typeof Link>('../../apps/generator/src/delivery/filter-link.service');
    expect(isWoven(app.get(FilterLink), 'deliver')).toBe(true);
    expect(await metric('dataflow_operation_duration_seconds_count', { operation: 'filter.deliver' })).toBeDefined();
  });

  it('opens its breaker while the filter is away, times every failed delivery, and reports not ready', async () => {
    await waitFor(
      async () => (await metric('dataflow_circuit_state', { breaker: 'filter' })) === 2,
      20_000,
      'the breaker open',
    );
    expect(await metric('dataflow_operation_duration_seconds_count', { operation: 'filter.deliver' })).toBeGreaterThan(
      0,
    );
    const response = await fetch('http://127.0.0.1:3801/health/ready');
    expect(response.status).toBe(503);
  });
});
