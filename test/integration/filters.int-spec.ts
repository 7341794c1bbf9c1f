import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nestStream, type DataRecord } from '@dataflow/contracts';
import { AppProcess, LOG_DIR, sleep, waitFor } from '../support/app-process';
import { RABBITMQ_CLUSTER_URLS, RabbitProbe } from '../support/rabbit';
import { readFileSink } from '../support/records';
import { flatten, Stores } from '../support/stores';

const PARTITIONS = 4;
const THRESHOLD = 50;
const TOTAL = 3000;
const FILTER_PORTS = [3771, 3772] as const;

/**
 * Several filters on the partitioned topology: two replicas share one output directory, a
 * generator given both their URLs is moved between them (the one it uses is SIGKILLed, later the
 * other is stopped as in a rolling update), and still every record is in exactly one sink of its
 * route exactly once: the file sink's partitions hold the low ones once each, in seq order, the
 * databases the high ones.
 */
describe('several filters on the partitioned topology', () => {
  let rabbit: RabbitProbe;
  let stores: Stores;
  const apps: AppProcess[] = [];
  const source = `fl-${process.pid}`;
  const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-filters-'));

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect({ url: RABBITMQ_CLUSTER_URLS[0], partitions: PARTITIONS });
    await rabbit.redeclare();
    stores = await Stores.connect();
  });

  afterAll(async () => {
    await Promise.all(apps.splice(0).map((app) => app.kill()));
    await stores.deleteSource(source);
    await rabbit.close();
    await stores.close();
    rmSync(outputDir, { recursive: true, force: true });
  });

  function filter(index: 0 | 1): AppProcess {
    return new AppProcess('filter', FILTER_PORTS[index], {
      RABBITMQ_URL: RABBITMQ_CLUSTER_URLS[index] ?? '',
      RECORD_PARTITIONS: String(PARTITIONS),
      FILTER_THRESHOLD: String(THRESHOLD),
      FILTER_OUTPUT_DIR: outputDir,
    });
  }

  async function started(app: AppProcess): Promise<AppProcess> {
    apps.push(app);
    await app.start();
    await waitFor(async () => (await app.get('/health/ready')).status === 200, 60_000, `${app.name} ready`);
    return app;
  }

  /** The source's records in the file sink, partition by partition (they are all in one). */
  function fileRecords(): DataRecord[] {
    if (!existsSync(outputDir)) return [];
    return readdirSync(outputDir)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(a) - Number(b))
      .flatMap((partition) => readFileSink(join(outputDir, partition)))
      .filter((record) => record.source === source);
  }

  it('keeps every record exactly once, the file sink included, while the generator moves between them', async () => {
    const filters = [await started(filter(0)), await started(filter(1))];
    await started(
      new AppProcess('db-writer', 3773, {
        RABBITMQ_URL: RABBITMQ_CLUSTER_URLS.join(','),
        RECORD_PARTITIONS: String(PARTITIONS),
      }),
    );
    await started(
      new AppProcess('mongo-writer', 3774, {
        RABBITMQ_URL: RABBITMQ_CLUSTER_URLS.join(','),
        RECORD_PARTITIONS: String(PARTITIONS),
      }),
    );
    const generator = new AppProcess('generator', 3775, {
      GENERATOR_ID: source,
      GENERATOR_STATE_DIR: mkdtempSync(join(tmpdir(), 'dataflow-gen-')),
      GENERATOR_RATE: '300',
      GENERATOR_LIMIT: String(TOTAL),
      GENERATOR_FRAME_SIZE: '50',
      GENERATOR_RECONNECT_MAX_MS: '500',
      GENERATOR_ACK_TIMEOUT_MS: '3000',
      FILTER_WS_URL: FILTER_PORTS.map((port) => `ws://127.0.0.1:${port}/ingest`).join(','),
    });
    apps.push(generator);
    await generator.start();
    const acked = (): Promise<number> =>
      generator.metric('dataflow_records_total', { stage: 'deliver', outcome: 'acked' });
    const [first, second] = filters as [AppProcess, AppProcess];

    // The generator starts on the first URL: SIGKILL that filter mid-stream, so it moves to the other.
    await waitFor(async () => (await acked()) >= TOTAL / 4, 60_000, 'a quarter acknowledged');
    await first.kill();
    await waitFor(async () => (await acked()) >= TOTAL / 2, 60_000, 'half acknowledged by the second filter');
    await started(first);
    // A rolling update's step: the second stops (it drains), and the generator moves back to the first.
    await second.stop();
    await waitFor(async () => (await acked()) >= TOTAL, 90_000, 'everything acknowledged');
    await started(second);

    const high = (records: readonly DataRecord[]): number => records.filter((r) => r.randomValue > THRESHOLD).length;
    let files: DataRecord[] = [];
    await waitFor(
      async () => {
        files = fileRecords();
        const rows = await stores.postgresRows(source);
        const nested = flatten(await stores.mongoDocuments(source));
        return files.length + rows.length >= TOTAL && nested.length === rows.length;
      },
      120_000,
      'every record in its sinks',
    );
    await sleep(1000); // a repeat or a late copy would have arrived by now
    files = fileRecords();
    const rows = await stores.postgresRows(source);
    // Low values in the files, once each and in seq order; high values in the databases, once each.
    expect(high(files)).toBe(0);
    expect(rows.every((r) => r.randomValue > THRESHOLD)).toBe(true);
    const fileSeqs = files.map((r) => r.seq);
    expect(fileSeqs).toEqual([...fileSeqs].sort((a, b) => a - b));
    expect(new Set(fileSeqs).size).toBe(fileSeqs.length);
    const all = [...fileSeqs, ...rows.map((r) => r.seq)].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    expect(await stores.mongoDocuments(source)).toEqual(nestStream(rows));
    // The file partitions moved with their active consumer: the second filter took over the ones the
    // SIGKILLed first one had (or had them from the start), and the first took partitions over when
    // the second stopped.
    for (const port of FILTER_PORTS) {
      expect(readFileSync(join(LOG_DIR, `filter-${port}.log`), 'utf8')).toMatch(/\/\d+: taken over/);
    }
  });
});
