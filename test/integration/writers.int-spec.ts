import {
  DataRecord,
  DEAD_LETTER_REASON_HEADER,
  MONGO_DLQ,
  NestedDocument,
  nestStream,
  POSTGRES_DLQ,
  POSTGRES_QUEUE,
  REPLAYED_HEADER,
} from '@dataflow/contracts';
import { AppProcess, sleep, waitFor } from '../support/app-process';
import { RabbitProbe } from '../support/rabbit';
import { highOrLow, recordWithExactHash } from '../support/records';
import { flatten, Stores } from '../support/stores';
import { ferretdbStart, ferretdbStop, postgresStart, postgresStop, queueCount } from '../../scripts/kit/services';

/**
 * db-writer and mongo-writer against the real broker, PostgreSQL and FerretDB. Messages are
 * crafted and published straight onto the exchange, so each test controls batching exactly.
 */
describe('writers: PostgreSQL and MongoDB sinks', () => {
  let rabbit: RabbitProbe;
  let stores: Stores;
  let dbWriter: AppProcess;
  let mongoWriter: AppProcess;
  let run = 0;

  const dbWriterEnv = {
    DB_WRITER_BATCH_MS: '20',
    DB_WRITER_BREAKER_HALF_OPEN_MS: '1000',
    DB_WRITER_RETRY_MAX_MS: '1000',
  };
  const mongoWriterEnv = {
    MONGO_WRITER_BATCH_MS: '20',
    MONGO_WRITER_BREAKER_HALF_OPEN_MS: '1000',
    MONGO_WRITER_RETRY_MAX_MS: '1000',
  };

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
    await rabbit.purgeAll();
    stores = await Stores.connect();
    dbWriter = await new AppProcess('db-writer', 3203, dbWriterEnv).start();
    mongoWriter = await new AppProcess('mongo-writer', 3204, mongoWriterEnv).start();
    await waitFor(async () => (await dbWriter.get('/health/ready')).status === 200, 60_000, 'db-writer ready');
    await waitFor(async () => (await mongoWriter.get('/health/ready')).status === 200, 60_000, 'mongo-writer ready');
  });

  afterAll(async () => {
    await Promise.all([dbWriter.stop(), mongoWriter.stop()]);
    await rabbit.purgeAll();
    await rabbit.close();
    await stores.close();
  });

  /** A source name unique to this run, so tests never see each other's records. */
  function freshSource(name: string): string {
    return `w-${name}-${process.pid}-${++run}`;
  }

  async function storedEverywhere(source: string, expected: readonly DataRecord[]): Promise<void> {
    const want = [...expected].sort((a, b) => a.seq - b.seq);
    await waitFor(
      async () =>
        (await stores.postgresRows(source)).length >= want.length &&
        flatten(await stores.mongoDocuments(source)).length >= want.length,
      60_000,
      `${want.length} records of ${source} in both stores`,
    );
    await sleep(300); // anything extra (a duplicate) would have arrived by now
    expect(await stores.postgresRows(source)).toEqual(want);
    expect(await stores.mongoDocuments(source)).toEqual(nestStream(want));
  }

  function hashes(source: string, list: string[], firstSeq = 1): DataRecord[] {
    return list.map((hash, i) => recordWithExactHash(source, firstSeq + i, hash));
  }

  it('nests the CONTRACT example: 3a af b0 9c 12 ff → [3a] [af b0 9c] [12] [ff]', async () => {
    const source = freshSource('example');
    const records = hashes(source, ['3a', 'af', 'b0', '9c', '12', 'ff']);
    await rabbit.publishRecords(records);
    await storedEverywhere(source, records);
    const documents = await stores.mongoDocuments(source);
    expect(documents.map((d) => [d.hashValue, ...d.nestedRecords.map((n) => n.hashValue)])).toEqual([
      ['3a'],
      ['af', 'b0', '9c'],
      ['12'],
      ['ff'],
    ]);
  });

  it('nests a long run, alternating runs, and runs spanning several messages and batches', async () => {
    const source = freshSource('runs');
    const pattern = [
      ...Array.from({ length: 40 }, () => true),
      false,
      ...Array.from({ length: 30 }, (_, i) => i % 2 === 0),
      ...Array.from({ length: 25 }, (_, i) => i % 5 !== 0),
    ];
    const records = pattern.map((high, i) => highOrLow(source, i + 1, high));
    // One record per message for the first part, then chunks of 7: runs cross message boundaries.
    for (const record of records.slice(0, 20)) await rabbit.publishRecords(record);
    for (let i = 20; i < records.length; i += 7) {
      await rabbit.publishRecords(records.slice(i, i + 7));
      await sleep(30); // a batch window (20 ms) closes between some of them
    }
    await storedEverywhere(source, records);
  });

  it('stores a redelivered batch and a record repeated within a batch once', async () => {
    const source = freshSource('redelivery');
    const records = Array.from({ length: 12 }, (_, i) => highOrLow(source, i + 1, i % 3 !== 0));
    await rabbit.publishRecords(records);
    await rabbit.publishRecords(records);
    await rabbit.publishRecords([records[4] as DataRecord, records[4] as DataRecord, records[5] as DataRecord]);
    await storedEverywhere(source, records);
    expect(await dbWriter.metric('dataflow_records_total', { stage: 'store', outcome: 'duplicate' })).toBeGreaterThan(
      0,
    );
  });

  it('is idempotent: everything published twice gives the same rows and documents', async () => {
    const source = freshSource('twice');
    const records = Array.from({ length: 60 }, (_, i) => highOrLow(source, i + 1, i % 4 !== 3));
    for (let i = 0; i < records.length; i += 10) await rabbit.publishRecords(records.slice(i, i + 10));
    await storedEverywhere(source, records);
    const idsBefore = (await stores.mongoIds(source)).sort();
    for (let i = 0; i < records.length; i += 15) await rabbit.publishRecords(records.slice(i, i + 15));
    await sleep(1000);
    await storedEverywhere(source, records);
    expect((await stores.mongoIds(source)).sort()).toEqual(idsBefore);
  });

  it('stores a record of a replayed dead letter that arrives after later ones once, in both stores', async () => {
    const source = freshSource('late');
    const records = Array.from({ length: 10 }, (_, i) => highOrLow(source, i + 1, i !== 4));
    const [late, ...rest] = [records[5] as DataRecord, ...records.filter((r) => r.seq !== 6)];
    await rabbit.publishRecords(rest);
    await waitFor(
      async () => flatten(await stores.mongoDocuments(source)).length === 9,
      60_000,
      'nine records in MongoDB',
    );
    // As `dataflow dlq replay` publishes it. (Without the header, a record at or below what the
    // mongo-writer stored is a redelivered duplicate: see the next test.)
    await rabbit.publishRecords(late, { [REPLAYED_HEADER]: 1 });
    await rabbit.publishRecords(records.slice(0, 3)); // a plain redelivery: stays a duplicate
    await waitFor(
      async () => flatten(await stores.mongoDocuments(source)).length >= 10,
      60_000,
      'the late record in MongoDB',
    );
    await sleep(500);
    const flat = flatten(await stores.mongoDocuments(source)).sort((a, b) => a.seq - b.seq);
    expect(flat).toEqual(records);
    expect(await stores.postgresRows(source)).toEqual(records);
    const documents = await stores.mongoDocuments(source);
    expect(documents.find((d) => d.seq === 6)).toEqual({ ...late, nestedRecords: [] });
  });

  it('takes a record at or below what it stored, not replayed, for a redelivered duplicate (CONTRACT §1)', async () => {
    const source = freshSource('below-tail');
    const records = Array.from({ length: 10 }, (_, i) => highOrLow(source, i + 1, i !== 4));
    const [late, ...rest] = [records[5] as DataRecord, ...records.filter((r) => r.seq !== 6)];
    await rabbit.publishRecords(rest);
    await waitFor(async () => (await stores.postgresRows(source)).length === 9, 60_000, 'nine rows');
    const duplicatesBefore = await mongoWriter.metric('dataflow_records_total', {
      stage: 'store',
      outcome: 'duplicate',
    });
    await rabbit.publishRecords(late);
    await waitFor(async () => (await stores.postgresRows(source)).length === 10, 60_000, 'the tenth row');
    await waitFor(
      async () =>
        (await mongoWriter.metric('dataflow_records_total', { stage: 'store', outcome: 'duplicate' })) >
        duplicatesBefore,
      30_000,
      'the mongo-writer to count it as a duplicate',
    );
    expect(flatten(await stores.mongoDocuments(source)).map((r) => r.seq)).not.toContain(6);
  });

  it('completes a batch a crash left half written: documents already there are skipped, none doubled', async () => {
    const source = freshSource('half-written');
    const records = Array.from({ length: 30 }, (_, i) => highOrLow(source, i + 1, i % 4 !== 0));
    // What a crash part-way through the batch's ordered insert leaves: its first documents, the
    // last of them cut short (it was written whole by an attempt that saw fewer records).
    const planned = nestStream(records);
    const kept = planned.slice(0, Math.ceil(planned.length / 2));
    const last = kept.at(-1) as NestedDocument;
    for (const document of kept.slice(0, -1)) await stores.insertMongoDocument(document);
    await stores.insertMongoDocument({ ...last, nestedRecords: last.nestedRecords.slice(0, 1) });
    await rabbit.publishRecords(records);
    await storedEverywhere(source, records);
    expect((await stores.mongoIds(source)).length).toBe(planned.length);
  });

  it('continues a run across a mongo-writer restart', async () => {
    const source = freshSource('restart');
    const records = Array.from({ length: 30 }, (_, i) => highOrLow(source, i + 1, i !== 10));
    await rabbit.publishRecords(records.slice(0, 15));
    await waitFor(async () => flatten(await stores.mongoDocuments(source)).length === 15, 30_000, 'first half');
    expect(await mongoWriter.stop()).toBe(0);
    await rabbit.publishRecords(records.slice(15));
    mongoWriter = await new AppProcess('mongo-writer', 3204, mongoWriterEnv).start();
    await storedEverywhere(source, records);
  });

  it('dead-letters poison with the reason and keeps consuming', async () => {
    const source = freshSource('poison');
    const before = [POSTGRES_DLQ, MONGO_DLQ].map((q) => rabbit.depth(q));
    expect(await Promise.all(before)).toEqual([0, 0]);
    await rabbit.publishRaw('{"pattern":"records.high","data":');
    await rabbit.publishRaw(JSON.stringify({ pattern: 'records.high', data: { source, seq: 0 } }));
    await rabbit.publishRaw(JSON.stringify({ pattern: 'something.else', data: [] }));
    const good = [highOrLow(source, 1, true), highOrLow(source, 2, true)];
    await rabbit.publishRecords(good);
    await storedEverywhere(source, good);
    for (const dlq of [POSTGRES_DLQ, MONGO_DLQ]) {
      await waitFor(async () => (await rabbit.depth(dlq)) === 3, 10_000, `3 messages in ${dlq}`);
      const reasons = (await rabbit.drain(dlq)).map((m) => String(m.properties.headers?.[DEAD_LETTER_REASON_HEADER]));
      expect(reasons.map((r) => r.split(':')[0])).toEqual(['invalid_json', 'invalid_record', 'unknown_pattern']);
    }
    expect(await dbWriter.metric('dataflow_records_rejected_total', { reason: 'invalid_json' })).toBe(1);
  });

  it('holds messages while PostgreSQL is stopped for 10 s, then stores each once', async () => {
    const source = freshSource('pg-down');
    const records = Array.from({ length: 50 }, (_, i) => highOrLow(source, i + 1, i % 2 === 0));
    await postgresStop();
    try {
      for (let i = 0; i < records.length; i += 5) await rabbit.publishRecords(records.slice(i, i + 5));
      await waitFor(
        async () => (await dbWriter.metric('dataflow_circuit_state', { breaker: 'postgres' })) === 2,
        30_000,
        'postgres breaker open',
      );
      expect((await dbWriter.get('/health/ready')).status).toBe(503);
      await sleep(10_000);
      // Nothing acknowledged while nothing could be committed: every message is still held.
      expect((await queueCount(POSTGRES_QUEUE, 'unacknowledged')) + (await rabbit.depth(POSTGRES_QUEUE))).toBe(10);
    } finally {
      await postgresStart();
    }
    await stores.reconnectPostgres();
    await storedEverywhere(source, records);
    await waitFor(async () => (await dbWriter.get('/health/ready')).status === 200, 30_000, 'db-writer ready again');
  });

  it('holds messages while FerretDB is stopped for 10 s, then nests them exactly', async () => {
    const source = freshSource('mongo-down');
    const records = Array.from({ length: 40 }, (_, i) => highOrLow(source, i + 1, i % 7 !== 0));
    await rabbit.publishRecords(records.slice(0, 10));
    await waitFor(async () => flatten(await stores.mongoDocuments(source)).length === 10, 30_000, 'first records');
    await ferretdbStop();
    try {
      for (let i = 10; i < records.length; i += 6) await rabbit.publishRecords(records.slice(i, i + 6));
      await waitFor(
        async () => (await mongoWriter.metric('dataflow_circuit_state', { breaker: 'mongodb' })) === 2,
        30_000,
        'mongodb breaker open',
      );
      await sleep(10_000);
    } finally {
      await ferretdbStart();
    }
    await stores.reconnectMongo();
    await storedEverywhere(source, records);
  });
});
