import { DataRecord, MONGO_QUEUE, nestStream } from '@dataflow/contracts';
import { AppProcess, sleep, waitFor } from '../support/app-process';
import { RabbitProbe } from '../support/rabbit';
import { highOrLow, recordWithExactHash } from '../support/records';
import { ferretdbStart, ferretdbStop } from '../../scripts/kit/services';
import { flatten, Stores } from '../support/stores';
import { prng } from '../support/prng';

/**
 * The mongo-writer when a redelivery differs from the first attempt: other batch boundaries after
 * an interrupted write, and a second writer taking over while the first still holds messages. The
 * documents must always equal the nesting rule applied to the whole ordered stream.
 */
describe('mongo-writer: redeliveries that differ from the first attempt', () => {
  let rabbit: RabbitProbe;
  let stores: Stores;
  const writers: AppProcess[] = [];
  let run = 0;
  const sources: string[] = [];

  const baseEnv = {
    MONGO_WRITER_BATCH_MS: '20',
    MONGO_WRITER_BREAKER_HALF_OPEN_MS: '1000',
    MONGO_WRITER_RETRY_MAX_MS: '1000',
  };

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
    await rabbit.purgeAll();
    stores = await Stores.connect();
  });

  afterEach(async () => {
    await Promise.all(writers.splice(0).map((writer) => writer.kill()));
    await rabbit.purgeAll();
    // FerretDB answers every query with a scan of the collection: leave it as small as it was.
    for (const source of sources.splice(0)) await stores.deleteSource(source);
  });

  afterAll(async () => {
    await rabbit.close();
    await stores.close();
  });

  function freshSource(name: string): string {
    const source = `mr-${name}-${process.pid}-${++run}`;
    sources.push(source);
    return source;
  }

  async function startWriter(port: number, env: Record<string, string> = {}): Promise<AppProcess> {
    const writer = new AppProcess('mongo-writer', port, { ...baseEnv, ...env });
    writers.push(writer);
    await writer.start();
    await waitFor(async () => (await writer.get('/health/ready')).status === 200, 60_000, `mongo-writer ${port} ready`);
    return writer;
  }

  async function nestedExactly(source: string, records: readonly DataRecord[], timeoutMs = 60_000): Promise<void> {
    await waitFor(
      async () => flatten(await stores.mongoDocuments(source)).length >= records.length,
      timeoutMs,
      `${records.length} records of ${source} in MongoDB`,
    );
    await sleep(500); // anything extra (a repeat, a late copy) would have arrived by now
    expect(await stores.mongoDocuments(source)).toEqual(nestStream(records));
  }

  function hashes(source: string, list: readonly string[], firstSeq = 1): DataRecord[] {
    return list.map((hash, i) => recordWithExactHash(source, firstSeq + i, hash));
  }

  it('a crash left new documents of a batch but the redelivery carries more records: none is lost', async () => {
    await startWriter(3701);
    const source = freshSource('insert-path');
    const records = hashes(source, ['3a', 'af', 'b0', 'c1', '12']);
    // What a writer interrupted after writing batch 1..3 leaves: its two documents, nothing else.
    for (const document of nestStream(records.slice(0, 3))) await stores.insertMongoDocument(document);
    await rabbit.publishRecords(records); // redelivered together with 4 and 5, in one batch
    await nestedExactly(source, records);
  });

  it('a crash left part of an append but the redelivery appends more: none is lost', async () => {
    await startWriter(3701);
    const source = freshSource('append-path');
    const records = hashes(source, ['af', 'b0', 'c1', 'd2', '12']);
    await rabbit.publishRecords(records.slice(0, 1));
    await nestedExactly(source, records.slice(0, 1));
    // An interrupted append of 2 onto document 1; the redelivery carries 2 and 3, then 4, 5.
    await stores.pushNested(source, 1, records.slice(1, 2));
    await rabbit.publishRecords(records.slice(1, 3));
    await rabbit.publishRecords(records.slice(3));
    await nestedExactly(source, records);
  });

  it('two writers: a breaker opening while the active one holds messages hands them over in order', async () => {
    // A holds a few messages when FerretDB goes away; B, the standby, retries fast. Whatever order
    // the two come back in, the documents must be the rule over the stream.
    const a = await startWriter(3701, { MONGO_WRITER_PREFETCH: '4', MONGO_WRITER_RETRY_MAX_MS: '15000' });
    const b = await startWriter(3702, { MONGO_WRITER_RETRY_MAX_MS: '300' });
    const source = freshSource('breaker-handover');
    const random = prng(7);
    const records = Array.from({ length: 240 }, (_, i) => highOrLow(source, i + 1, random() < 0.75));
    await rabbit.publishRecords(records.slice(0, 40));
    await nestedExactly(source, records.slice(0, 40));
    await ferretdbStop();
    try {
      for (let i = 40; i < records.length; i += 10) await rabbit.publishRecords(records.slice(i, i + 10));
      await waitFor(
        async () => (await a.metric('dataflow_circuit_state', { breaker: 'mongodb' })) === 2,
        30_000,
        'the active writer’s breaker to open',
      );
      await sleep(4000);
    } finally {
      await ferretdbStart();
    }
    await stores.reconnectMongo();
    await nestedExactly(source, records, 120_000);
    expect(await rabbit.depth(MONGO_QUEUE)).toBe(0);
    expect(a.port + b.port).toBeGreaterThan(0);
  });

  it('two writers: SIGTERM of the active one under load hands over without a record doubled or misnested', async () => {
    const a = await startWriter(3701, {
      MONGO_WRITER_PREFETCH: '50',
      MONGO_WRITER_MAX_HELD_RECORDS: '500000',
      MONGO_WRITER_BATCH_SIZE: '2000',
    });
    await startWriter(3702);
    const source = freshSource('sigterm-handover');
    const random = prng(11);
    const records = Array.from({ length: 6000 }, (_, i) => highOrLow(source, i + 1, random() < 0.8));
    for (let i = 0; i < 2000; i += 20) await rabbit.publishRecords(records.slice(i, i + 20));
    const rest = (async () => {
      for (let i = 2000; i < records.length; i += 20) await rabbit.publishRecords(records.slice(i, i + 20));
    })();
    await waitFor(
      async () => flatten(await stores.mongoDocuments(source)).length > 500,
      30_000,
      'the active writer to be storing',
    );
    expect(await a.stop()).toBe(0);
    await rest;
    await nestedExactly(source, records, 120_000);
  });
});
