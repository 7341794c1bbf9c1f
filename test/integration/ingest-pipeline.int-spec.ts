import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MONGO_QUEUE, POSTGRES_QUEUE, computeHash } from '@dataflow/contracts';
import { AppProcess, sleep, waitFor } from '../support/app-process';
import { RabbitProbe, recordsOf } from '../support/rabbit';
import { isStrictlyAscending, readFileSink, seqsOf } from '../support/records';
import { rabbitmqStart, rabbitmqStop } from '../../scripts/kit/services';

/**
 * generator → filter → file sink and RabbitMQ, all real: N records in, exactly the ≤ 90 ones in
 * the files and exactly the > 90 ones on both queues, each once, in order.
 */
describe('generator → filter → file and RabbitMQ', () => {
  let rabbit: RabbitProbe;
  const apps: AppProcess[] = [];

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
  });

  beforeEach(async () => {
    await rabbit.purgeAll();
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.kill()));
  });

  afterAll(async () => {
    await rabbit.close();
  });

  function startFilter(outputDir: string, env: Record<string, string> = {}): Promise<AppProcess> {
    const filter = new AppProcess('filter', 3102, { FILTER_OUTPUT_DIR: outputDir, ...env });
    apps.push(filter);
    return filter.start();
  }

  function startGenerator(source: string, env: Record<string, string>): Promise<AppProcess> {
    const generator = new AppProcess('generator', 3101, {
      GENERATOR_ID: source,
      GENERATOR_STATE_DIR: mkdtempSync(join(tmpdir(), 'dataflow-gen-')),
      FILTER_WS_URL: 'ws://127.0.0.1:3102/ingest',
      ...env,
    });
    apps.push(generator);
    return generator.start();
  }

  /** A filter whose RabbitMQ breaker opens and tries again within about a second. */
  const QUICK_BREAKER = { FILTER_BREAKER_HALF_OPEN_MS: '1000', FILTER_PUBLISH_TIMEOUT_MS: '1000' };

  function rabbitmqBreakerOpen(filter: AppProcess): Promise<void> {
    return waitFor(
      async () => (await filter.metric('dataflow_circuit_state', { breaker: 'rabbitmq' })) === 2,
      30_000,
      "the filter's rabbitmq breaker to open",
    );
  }

  async function acknowledged(generator: AppProcess): Promise<number> {
    return generator.metric('dataflow_records_total', { stage: 'deliver', outcome: 'acked' });
  }

  function expectExactSplit(outputDir: string, source: string, total: number, queueCopies: 'exact' | 'at-least-once') {
    const fileRecords = readFileSink(outputDir).filter((r) => r.source === source);
    const queues = [POSTGRES_QUEUE, MONGO_QUEUE];
    return Promise.all(queues.map((q) => rabbit.drain(q))).then((drained) => {
      const perQueue = drained.map((messages) => recordsOf(messages).filter((r) => r.source === source));
      for (const record of fileRecords) expect(record.randomValue).toBeLessThanOrEqual(90);
      expect(isStrictlyAscending(seqsOf(fileRecords))).toBe(true);
      for (const queued of perQueue) {
        for (const record of queued) {
          expect(record.randomValue).toBeGreaterThan(90);
          expect(record.hashValue).toBe(computeHash(record.timestamp, record.randomValue));
        }
        const seqs = seqsOf(queued);
        if (queueCopies === 'exact') expect(isStrictlyAscending(seqs)).toBe(true);
        const unique = [...new Set(seqs)];
        const all = [...seqsOf(fileRecords), ...unique].sort((a, b) => a - b);
        expect(all).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      }
      expect(seqsOf(perQueue[0] ?? [])).toEqual(seqsOf(perQueue[1] ?? []));
      return { file: fileRecords.length, queue: perQueue[0]?.length ?? 0 };
    });
  }

  it('splits N records exactly: the ≤ 90 ones to the files, the > 90 ones to both queues', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-out-'));
    const total = 3000;
    await startFilter(outputDir);
    const generator = await startGenerator('it-split', { GENERATOR_RATE: '2000', GENERATOR_LIMIT: String(total) });
    await waitFor(async () => (await acknowledged(generator)) === total, 60_000, 'all records acknowledged');
    const { file, queue } = await expectExactSplit(outputDir, 'it-split', total, 'exact');
    expect(file + queue).toBe(total);
    expect(queue).toBeGreaterThan(0);
  });

  it('survives a filter crash: files hold every record once, queues every > 90 record', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-out-'));
    const total = 6000;
    const filter = await startFilter(outputDir, { FILTER_FLUSH_INTERVAL_MS: '50' });
    const generator = await startGenerator('it-crash', { GENERATOR_RATE: '1500', GENERATOR_LIMIT: String(total) });
    await waitFor(async () => (await acknowledged(generator)) > 1500, 30_000, 'some records acknowledged');
    await filter.kill();
    const restarted = new AppProcess('filter', 3102, { FILTER_OUTPUT_DIR: outputDir, FILTER_FLUSH_INTERVAL_MS: '50' });
    apps.push(restarted);
    await restarted.start();
    await waitFor(async () => (await acknowledged(generator)) >= total, 90_000, 'all records acknowledged');
    // After a crash the queue side may carry a resent batch twice (the writers drop it by seq);
    // the file side must still hold each record exactly once.
    await expectExactSplit(outputDir, 'it-crash', total, 'at-least-once');
  });

  it('recovers by itself after the output directory was unwritable, with every record in the files once', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-out-'));
    const total = 3000;
    const filter = await startFilter(outputDir, { FILTER_BREAKER_HALF_OPEN_MS: '1000' });
    const generator = await startGenerator('it-immutable', {
      GENERATOR_RATE: '300',
      GENERATOR_LIMIT: String(total),
      GENERATOR_BREAKER_HALF_OPEN_MS: '1000',
      GENERATOR_ACK_TIMEOUT_MS: '3000',
      GENERATOR_RECONNECT_MAX_MS: '2000',
    });
    await waitFor(async () => (await acknowledged(generator)) > 300, 30_000, 'records flowing');
    // As root, chmod does not stop writes; the immutable attribute does, even through open descriptors.
    const files = () => readdirSync(outputDir).map((name) => join(outputDir, name));
    execFileSync('chattr', ['+i', outputDir, ...files()]);
    try {
      await waitFor(
        async () => (await filter.metric('dataflow_circuit_state', { breaker: 'filesystem' })) === 2,
        30_000,
        "the filter's filesystem breaker to open",
      );
      await sleep(3000);
    } finally {
      execFileSync('chattr', ['-i', outputDir, ...files()]);
    }
    await waitFor(async () => (await acknowledged(generator)) >= total, 120_000, 'every record acknowledged');
    expect(await filter.metric('dataflow_circuit_state', { breaker: 'filesystem' })).toBe(0);
    await expectExactSplit(outputDir, 'it-immutable', total, 'exact');
  });

  it('pauses while RabbitMQ is down and resumes by itself with nothing lost', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-out-'));
    const total = 4500;
    const filter = await startFilter(outputDir, QUICK_BREAKER);
    const generator = await startGenerator('it-broker', {
      GENERATOR_RATE: '300',
      GENERATOR_LIMIT: String(total),
      GENERATOR_BREAKER_HALF_OPEN_MS: '1000',
      GENERATOR_ACK_TIMEOUT_MS: '3000',
      GENERATOR_RECONNECT_MAX_MS: '2000',
    });
    await waitFor(async () => (await acknowledged(generator)) > 300, 30_000, 'records flowing');
    await rabbitmqStop();
    try {
      await rabbitmqBreakerOpen(filter);
      await waitFor(
        async () => (await generator.metric('dataflow_circuit_state', { breaker: 'filter' })) === 2,
        30_000,
        "the generator's breaker to open",
      );
      const generatedAtOpen = await generator.metric('dataflow_records_total', { stage: 'generate' });
      await sleep(4000);
      const generatedLater = await generator.metric('dataflow_records_total', { stage: 'generate' });
      // Generation is paused while the breaker is not closed: at 300/s, 4 s would be 1,200 records.
      expect(generatedLater - generatedAtOpen).toBeLessThan(100);
    } finally {
      await rabbitmqStart();
      await rabbit.reopen();
    }
    await waitFor(async () => (await acknowledged(generator)) >= total, 120_000, 'every record acknowledged');
    expect(await generator.metric('dataflow_circuit_state', { breaker: 'filter' })).toBe(0);
    // Publishes that timed out during the outage may still reach the queue after it returns, and are
    // then resent: the queues hold every > 90 record at least once (the writers drop repeats).
    await expectExactSplit(outputDir, 'it-broker', total, 'at-least-once');
  });

  it('closes its open breaker and is ready again once RabbitMQ is back, with no record arriving', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-out-'));
    const filter = await startFilter(outputDir, QUICK_BREAKER);
    const generator = await startGenerator('it-probe', {
      GENERATOR_RATE: '200',
      GENERATOR_ACK_TIMEOUT_MS: '3000',
      GENERATOR_RECONNECT_MAX_MS: '1000',
    });
    await waitFor(async () => (await acknowledged(generator)) > 100, 30_000, 'records flowing');
    await rabbitmqStop();
    try {
      await rabbitmqBreakerOpen(filter);
      // Nothing reaches the filter from now on: what a load balancer does to an unready replica.
      await generator.kill();
      expect((await filter.get('/health/ready')).status).toBe(503);
    } finally {
      await rabbitmqStart();
      await rabbit.reopen();
    }
    await waitFor(async () => (await filter.get('/health/ready')).status === 200, 30_000, 'the filter ready again');
    expect(await filter.metric('dataflow_circuit_state', { breaker: 'rabbitmq' })).toBe(0);
  });
});
