import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nestStream } from '@dataflow/contracts';
import { AppProcess, sleep, waitFor } from '../support/app-process';
import { RabbitProbe } from '../support/rabbit';
import { isStrictlyAscending, readFileSink, seqsOf } from '../support/records';
import { Stores } from '../support/stores';

/**
 * The whole pipeline as separate processes: generator → filter → file and RabbitMQ →
 * db-writer and mongo-writer. Every generated record ends up exactly once in its sinks, and the
 * MongoDB documents equal the nesting rule applied to the ordered stream.
 */
describe('whole pipeline', () => {
  const apps: AppProcess[] = [];
  let stores: Stores;
  let rabbit: RabbitProbe;

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
    await rabbit.purgeAll();
    stores = await Stores.connect();
  });

  afterAll(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
    await rabbit.close();
    await stores.close();
  });

  it('stores every record once: ≤ threshold in the files, > threshold in PostgreSQL and MongoDB', async () => {
    const source = `pipeline-${process.pid}`;
    const total = 4000;
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-e2e-'));
    await stores.deleteSource(source);
    for (const [name, port, env] of [
      ['db-writer', 3303, {}],
      ['mongo-writer', 3304, {}],
      ['filter', 3302, { FILTER_OUTPUT_DIR: outputDir, FILTER_THRESHOLD: '50' }],
    ] as const) {
      apps.push(await new AppProcess(name, port, env).start());
    }
    const generator = await new AppProcess('generator', 3301, {
      GENERATOR_ID: source,
      GENERATOR_RATE: '2000',
      GENERATOR_LIMIT: String(total),
      GENERATOR_STATE_DIR: mkdtempSync(join(tmpdir(), 'dataflow-e2e-gen-')),
      FILTER_WS_URL: 'ws://127.0.0.1:3302/ingest',
    }).start();
    apps.push(generator);

    await waitFor(
      async () => (await generator.metric('dataflow_records_total', { stage: 'deliver', outcome: 'acked' })) === total,
      90_000,
      'every record acknowledged',
    );
    const inFile = readFileSink(outputDir).filter((r) => r.source === source);
    const high = total - inFile.length;
    await waitFor(async () => (await stores.postgresRows(source)).length === high, 60_000, 'PostgreSQL rows');
    await waitFor(
      async () => (await stores.mongoDocuments(source)).reduce((n, d) => n + 1 + d.nestedRecords.length, 0) === high,
      60_000,
      'MongoDB records',
    );
    await sleep(500);

    const rows = await stores.postgresRows(source);
    expect(inFile.every((r) => r.randomValue <= 50)).toBe(true);
    expect(rows.every((r) => r.randomValue > 50)).toBe(true);
    expect(isStrictlyAscending(seqsOf(inFile))).toBe(true);
    const everySeq = [...seqsOf(inFile), ...seqsOf(rows)].sort((a, b) => a - b);
    expect(everySeq).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(await stores.mongoDocuments(source)).toEqual(nestStream(rows));
  });
});
