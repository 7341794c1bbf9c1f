import { DataRecord, MONGO_DLQ, MONGO_QUEUE, nestStream } from '@dataflow/contracts';
import { AppProcess, sleep, waitFor } from '../support/app-process';
import { prng } from '../support/prng';
import { RabbitProbe } from '../support/rabbit';
import { highOrLow, makeRecord } from '../support/records';
import { applyConsumerTimeout, ferretdbSignal, queueCount, setConsumerTimeout } from '../../scripts/kit/services';
import { flatten, Stores } from '../support/stores';

/**
 * What a writer holds while its database is away, and what the broker does to a consumer meanwhile:
 * held work is bounded by records, a channel the broker closes (delivery acknowledgement timeout)
 * is opened again, a consumer the broker cancels subscribes again, and none of it loses, doubles or
 * dead-letters a record.
 */
describe('writers: held work and long outages', () => {
  let rabbit: RabbitProbe;
  let stores: Stores;
  const apps: AppProcess[] = [];
  let run = 0;
  const sources: string[] = [];

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
    await rabbit.purgeAll();
    stores = await Stores.connect();
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.kill()));
    await rabbit.purgeAll();
    // FerretDB answers every query with a scan of the collection: leave it as small as it was.
    for (const source of sources.splice(0)) await stores.deleteSource(source);
  });

  afterAll(async () => {
    await rabbit.close();
    await stores.close();
  });

  function freshSource(name: string): string {
    const source = `wo-${name}-${process.pid}-${++run}`;
    sources.push(source);
    return source;
  }

  async function startMongoWriter(env: Record<string, string> = {}): Promise<AppProcess> {
    const writer = new AppProcess('mongo-writer', 3722, {
      MONGO_WRITER_BATCH_MS: '20',
      MONGO_WRITER_BREAKER_HALF_OPEN_MS: '1000',
      MONGO_WRITER_RETRY_MAX_MS: '1000',
      ...env,
    });
    apps.push(writer);
    await writer.start();
    await waitFor(async () => (await writer.get('/health/ready')).status === 200, 60_000, 'mongo-writer ready');
    return writer;
  }

  async function nestedExactly(source: string, records: readonly DataRecord[], timeoutMs = 90_000): Promise<void> {
    await waitFor(
      async () => flatten(await stores.mongoDocuments(source)).length >= records.length,
      timeoutMs,
      `${records.length} records of ${source} in MongoDB`,
    );
    await sleep(500);
    expect(await stores.mongoDocuments(source)).toEqual(nestStream(records));
  }

  it('holds at most MONGO_WRITER_MAX_HELD_RECORDS records of a backlog while its database is slow', async () => {
    await startMongoWriter({ MONGO_WRITER_MAX_HELD_RECORDS: '60000' });
    const source = freshSource('held-bound');
    const perMessage = 5000;
    const records = Array.from({ length: 40 * perMessage }, (_, i) => makeRecord(source, i + 1, 95));
    // A database that answers nothing: writes neither succeed nor fail, deliveries pile up.
    await ferretdbSignal('STOP');
    let mostHeld = 0;
    try {
      for (let i = 0; i < records.length; i += perMessage)
        await rabbit.publishRecords(records.slice(i, i + perMessage));
      for (let i = 0; i < 10; i++) {
        mostHeld = Math.max(mostHeld, await queueCount(MONGO_QUEUE, 'unacknowledged'));
        await sleep(300);
      }
    } finally {
      await ferretdbSignal('CONT');
    }
    expect(mostHeld).toBeGreaterThan(0);
    expect(mostHeld * perMessage).toBeLessThanOrEqual(60000);
    await waitFor(
      async () => flatten(await stores.mongoDocuments(source)).length >= records.length,
      180_000,
      'every record stored',
    );
    expect(flatten(await stores.mongoDocuments(source)).length).toBe(records.length);
  });

  it('a database that hangs past the delivery acknowledgement timeout: the channel is opened again, nothing lost, doubled or dead-lettered', async () => {
    const previous = await setConsumerTimeout(4000);
    try {
      await startMongoWriter(); // its channels keep the short timeout, also those it opens later
    } finally {
      await applyConsumerTimeout(previous);
    }
    const source = freshSource('hung-database');
    const random = prng(5);
    const records = Array.from({ length: 200 }, (_, i) => highOrLow(source, i + 1, random() < 0.7));
    await rabbit.publishRecords(records.slice(0, 50));
    await nestedExactly(source, records.slice(0, 50));
    await setConsumerTimeout(4000);
    await ferretdbSignal('STOP');
    try {
      for (let i = 50; i < records.length; i += 10) await rabbit.publishRecords(records.slice(i, i + 10));
      await sleep(15_000); // several acknowledgement timeouts
    } finally {
      await ferretdbSignal('CONT');
      await applyConsumerTimeout(previous);
    }
    await nestedExactly(source, records, 120_000);
    expect(await rabbit.depth(MONGO_DLQ)).toBe(0);
    await waitFor(async () => (await rabbit.depth(MONGO_QUEUE)) === 0, 30_000, 'the mongo queue to empty');
  });

  it('a consumer the broker cancels subscribes again (declaring what is missing) and is not ready meanwhile', async () => {
    const writer = await startMongoWriter();
    const source = freshSource('cancelled');
    const records = Array.from({ length: 30 }, (_, i) => highOrLow(source, i + 1, i % 3 !== 0));
    await rabbit.publishRecords(records.slice(0, 10));
    await nestedExactly(source, records.slice(0, 10));
    await rabbit.deleteQueue(MONGO_QUEUE); // the broker cancels every consumer of a deleted queue
    const readiness: number[] = [];
    await waitFor(
      async () => {
        readiness.push((await writer.get('/health/ready')).status);
        return (await queueCount(MONGO_QUEUE, 'consumers')) === 1;
      },
      30_000,
      'the writer to declare its queue again and consume from it',
    );
    expect(readiness).toContain(503);
    for (let i = 10; i < records.length; i += 5) await rabbit.publishRecords(records.slice(i, i + 5));
    await nestedExactly(source, records, 30_000);
    expect((await writer.get('/health/ready')).status).toBe(200);
  });
});
