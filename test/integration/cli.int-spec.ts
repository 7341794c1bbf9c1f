import { ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { ChannelModel } from 'amqplib';
import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import WebSocket from 'ws';
import {
  DataRecord,
  DEAD_LETTER_EXCHANGE,
  hourFileName,
  MONGO_DLQ,
  MONGO_QUEUE,
  NestedDocument,
  nestStream,
  POSTGRES_DLQ,
  POSTGRES_QUEUE,
} from '@dataflow/contracts';
import { AppProcess, sleep, waitFor } from '../support/app-process';
import { RABBITMQ_URL, RabbitProbe } from '../support/rabbit';
import { makeRecord, recordWithExactHash } from '../support/records';
import { DATABASE_URL, flatten, MONGODB_URL, Stores } from '../support/stores';

/**
 * The operator CLI (cli/main.ts) run as a child process, exactly as an operator runs it, against
 * the real RabbitMQ, PostgreSQL and FerretDB, and the built apps for replay and tail.
 */
interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const CLI = ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', 'cli/main.ts'];

function startCli(
  args: readonly string[],
  env: Record<string, string> = {},
): { child: ChildProcess; result: Promise<CliResult> } {
  const child = spawn(process.execPath, [...CLI, ...args], {
    cwd: process.cwd(),
    env: { ...process.env, RABBITMQ_URL, DATABASE_URL, MONGODB_URL, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const result = new Promise<CliResult>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, result };
}

async function cli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { child, result } = startCli(args, env);
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  try {
    return await result;
  } finally {
    clearTimeout(timer);
  }
}

function json<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${String(result.code)}): ${result.stdout}\n${result.stderr}`);
  }
}

describe('operator CLI', () => {
  let rabbit: RabbitProbe;
  let raw: ChannelModel;
  let stores: Stores;
  let pg: Client;
  let mongo: MongoClient;
  const sources: string[] = [];
  const dirs: string[] = [];
  let run = 0;

  function freshSource(name: string): string {
    const source = `cli-${name}-${process.pid}-${Date.now() % 100_000}-${++run}`;
    sources.push(source);
    return source;
  }

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'dataflow-cli-'));
    dirs.push(dir);
    return dir;
  }

  /** Publishes one message straight into a DLQ, as a writer or the broker would have put it there. */
  async function deadLetter(
    queue: string,
    body: string | Buffer,
    headers: Record<string, unknown>,
    viaExchange = false,
  ): Promise<void> {
    const channel = await raw.createConfirmChannel();
    const content = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const options = { persistent: true, contentType: 'application/json', headers };
    if (viaExchange) channel.publish(DEAD_LETTER_EXCHANGE, queue, content, options);
    else channel.sendToQueue(queue, content, options);
    await channel.waitForConfirms();
    await channel.close();
  }

  const packet = (data: DataRecord | DataRecord[]): string => JSON.stringify({ pattern: 'records.high', data });

  async function purgeDeadLetters(): Promise<void> {
    const channel = await raw.createChannel();
    await channel.purgeQueue(POSTGRES_DLQ);
    await channel.purgeQueue(MONGO_DLQ);
    await channel.close();
  }

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
    await rabbit.purgeAll();
    raw = await amqp.connect(RABBITMQ_URL);
    raw.on('error', () => undefined);
    stores = await Stores.connect();
    pg = new Client({ connectionString: DATABASE_URL });
    pg.on('error', () => undefined);
    await pg.connect();
    mongo = new MongoClient(MONGODB_URL, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
  });

  afterAll(async () => {
    await purgeDeadLetters().catch(() => undefined);
    await rabbit.purgeAll().catch(() => undefined);
    for (const source of sources) {
      await stores.deleteSource(source).catch(() => undefined);
      await mongo.db().collection<{ _id: string }>('nesting_tails').deleteMany({ _id: source });
    }
    await raw.close().catch(() => undefined);
    await rabbit.close();
    await stores.close();
    await pg.end().catch(() => undefined);
    await mongo.close().catch(() => undefined);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  describe('dlq', () => {
    beforeEach(purgeDeadLetters);
    afterEach(purgeDeadLetters);

    it('lists and shows dead letters without removing them', async () => {
      const source = freshSource('list');
      const records = [makeRecord(source, 1, 95), makeRecord(source, 2, 97)];
      await deadLetter(
        POSTGRES_DLQ,
        packet(records),
        { 'x-dataflow-reason': 'store_refused: value too long', 'x-dataflow-queue': POSTGRES_QUEUE },
        true,
      );
      await deadLetter(MONGO_DLQ, Buffer.from([0xff, 0xfe, 0x01]), {
        'x-death': [{ count: 20, reason: 'delivery_limit', queue: MONGO_QUEUE, exchange: 'dataflow.records' }],
        'x-first-death-queue': MONGO_QUEUE,
        'x-first-death-reason': 'delivery_limit',
      });

      type Listing = {
        queues: {
          queue: string;
          messages: number;
          shown: { records?: number; first?: string; reason: string; originalQueue?: string; summary: string }[];
        }[];
      };
      for (let round = 0; round < 3; round++) {
        const listed = await cli(['dlq', 'list', '--json']);
        expect(listed.code).toBe(0);
        const [postgres, mongoQueue] = json<Listing>(listed).queues;
        expect(postgres).toMatchObject({ queue: POSTGRES_DLQ, messages: 1 });
        expect(postgres?.shown).toEqual([
          expect.objectContaining({
            records: 2,
            first: `${source}:1`,
            reason: 'store_refused: value too long',
            originalQueue: POSTGRES_QUEUE,
          }),
        ]);
        expect(mongoQueue).toMatchObject({ queue: MONGO_DLQ, messages: 1 });
        expect(mongoQueue?.shown).toEqual([
          expect.objectContaining({
            reason: 'delivery_limit',
            originalQueue: MONGO_QUEUE,
            summary: 'not JSON (3 bytes)',
          }),
        ]);
      }
      // Listing three times took nothing.
      expect(await rabbit.depth(POSTGRES_DLQ)).toBe(1);
      expect(await rabbit.depth(MONGO_DLQ)).toBe(1);

      const text = await cli(['dlq', 'list', '--queue', 'postgres']);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`${POSTGRES_DLQ}: 1 message`);
      expect(text.stdout).toContain(`2 records ${source}:1..2`);
      expect(text.stdout).toContain(`reason: store_refused: value too long  from: ${POSTGRES_QUEUE}`);
      expect(text.stdout).not.toContain(MONGO_DLQ);

      const shown = await cli(['dlq', 'show', 'postgres', '--json']);
      expect(shown.code).toBe(0);
      const show = json<{ entries: { headers: Record<string, unknown>; body: { data: DataRecord[] } }[] }>(shown);
      expect(show.entries).toHaveLength(1);
      expect(show.entries[0]?.headers['x-dataflow-reason']).toBe('store_refused: value too long');
      expect(show.entries[0]?.body.data).toEqual(records);

      const poison = await cli(['dlq', 'show', 'mongo']);
      expect(poison.code).toBe(0);
      expect(poison.stdout).toContain('body (base64');
      expect(poison.stdout).toContain(Buffer.from([0xff, 0xfe, 0x01]).toString('base64'));
      expect(poison.stdout).toContain('"reason": "delivery_limit"');

      const past = await cli(['dlq', 'show', 'postgres', '--offset', '1', '--json']);
      expect(json<{ entries: unknown[] }>(past).entries).toEqual([]);
      expect(await rabbit.depth(POSTGRES_DLQ)).toBe(1);
      expect(await rabbit.depth(MONGO_DLQ)).toBe(1);
    });

    it('refuses bad usage and unreachable brokers with one line and exit 2', async () => {
      const unknown = await cli(['dlq', 'show', 'nowhere']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
      expect(unknown.stderr).toContain('unknown dead-letter queue "nowhere"');

      const refused = await cli(['dlq', 'list'], { RABBITMQ_URL: 'amqp://guest:secret@127.0.0.1:1' });
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim()).toMatch(
        /^dataflow: cannot connect to RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1.*ECONNREFUSED/,
      );
      expect(refused.stderr).not.toContain('secret');
      expect(refused.stderr).not.toContain('    at ');

      const option = await cli(['dlq', 'list', '--limit', 'many']);
      expect(option.code).toBe(2);
    });

    it('purges only with --yes', async () => {
      const source = freshSource('purge');
      await deadLetter(POSTGRES_DLQ, packet(makeRecord(source, 1, 95)), { 'x-dataflow-queue': POSTGRES_QUEUE });
      await deadLetter(POSTGRES_DLQ, 'garbage', { 'x-dataflow-reason': 'invalid_json: x' });

      const refused = await cli(['dlq', 'purge', 'postgres']);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toContain(`${POSTGRES_DLQ} holds 2 messages`);
      expect(refused.stderr).toContain('--yes');
      expect(await rabbit.depth(POSTGRES_DLQ)).toBe(2);

      const purged = await cli(['dlq', 'purge', 'postgres', '--yes']);
      expect(purged.code).toBe(0);
      expect(purged.stdout).toContain(`${POSTGRES_DLQ}: purged 2 messages`);
      expect(await rabbit.depth(POSTGRES_DLQ)).toBe(0);
    });

    describe('replay', () => {
      let dbWriter: AppProcess;
      let mongoWriter: AppProcess;

      beforeAll(async () => {
        dbWriter = await new AppProcess('db-writer', 3223, { DB_WRITER_BATCH_MS: '20' }).start();
        mongoWriter = await new AppProcess('mongo-writer', 3224, { MONGO_WRITER_BATCH_MS: '20' }).start();
        await waitFor(async () => (await dbWriter.get('/health/ready')).status === 200, 60_000, 'db-writer ready');
        await waitFor(
          async () => (await mongoWriter.get('/health/ready')).status === 200,
          60_000,
          'mongo-writer ready',
        );
      });

      afterAll(async () => {
        await Promise.all([dbWriter?.stop(), mongoWriter?.stop()]);
      });

      it('moves dead letters back to their own queue only, and the writers store them exactly once', async () => {
        const toPostgres = freshSource('replay-pg');
        const toMongo = freshSource('replay-mongo');
        const pgRecords = [1, 2, 3, 4].map((seq) => makeRecord(toPostgres, seq, 91 + seq));
        const mongoRecords = ['af', 'b0', '12', 'ff'].map((hash, i) => recordWithExactHash(toMongo, i + 1, hash));
        const writerReason = { 'x-dataflow-reason': 'store_refused: test', 'x-dataflow-queue': POSTGRES_QUEUE };
        await deadLetter(POSTGRES_DLQ, packet(pgRecords.slice(0, 2)), writerReason, true);
        // The same message twice (a writer crashed between the DLQ copy and its ack).
        await deadLetter(POSTGRES_DLQ, packet(pgRecords.slice(2)), writerReason, true);
        await deadLetter(POSTGRES_DLQ, packet(pgRecords.slice(2)), writerReason, true);
        await deadLetter(POSTGRES_DLQ, 'not json at all', {
          'x-dataflow-reason': 'invalid_json: x',
          'x-dataflow-queue': POSTGRES_QUEUE,
        });
        await deadLetter(MONGO_DLQ, packet(mongoRecords), {
          'x-death': [{ count: 1, reason: 'delivery_limit', queue: MONGO_QUEUE, exchange: 'dataflow.records' }],
        });

        const dry = await cli(['dlq', 'replay', 'all', '--dry-run']);
        expect(dry.code).toBe(0);
        expect(dry.stdout).toContain(`-> ${POSTGRES_QUEUE}`);
        expect(dry.stdout).toContain(`-> ${MONGO_QUEUE}`);
        expect(await rabbit.depth(POSTGRES_DLQ)).toBe(4);
        expect(await rabbit.depth(MONGO_DLQ)).toBe(1);

        const replay = await cli(['dlq', 'replay', 'all', '--json']);
        expect(replay.code).toBe(0);
        const tallies = json<{
          replayed: { queue: string; replayed: number; records: number; byTarget: Record<string, number> }[];
        }>(replay).replayed;
        expect(tallies).toEqual([
          expect.objectContaining({ queue: POSTGRES_DLQ, replayed: 4, records: 6, byTarget: { [POSTGRES_QUEUE]: 4 } }),
          expect.objectContaining({ queue: MONGO_DLQ, replayed: 1, records: 4, byTarget: { [MONGO_QUEUE]: 1 } }),
        ]);

        await waitFor(
          async () =>
            (await stores.postgresRows(toPostgres)).length >= 4 &&
            flatten(await stores.mongoDocuments(toMongo)).length >= 4,
          60_000,
          'replayed records stored',
        );
        // The poison message comes back to the DLQ once, dead-lettered again by the writer.
        await waitFor(async () => (await rabbit.depth(POSTGRES_DLQ)) === 1, 30_000, 'the poison back in the DLQ');
        await sleep(500);
        expect(await stores.postgresRows(toPostgres)).toEqual(pgRecords);
        expect(await stores.mongoDocuments(toMongo)).toEqual(nestStream(mongoRecords));
        // Replayed to their own queue only: the other sink never saw them.
        expect(await stores.mongoDocuments(toPostgres)).toEqual([]);
        expect(await stores.postgresRows(toMongo)).toEqual([]);
        expect(await rabbit.depth(MONGO_DLQ)).toBe(0);

        const again = await cli(['dlq', 'show', 'postgres', '--json']);
        const [back] = json<{ entries: { headers: Record<string, unknown>; reason: string }[] }>(again).entries;
        expect(back?.reason).toMatch(/^invalid_json/);
        expect(back?.headers['x-dataflow-replayed']).toBe(1);
        expect(typeof back?.headers['x-dataflow-replayed-at']).toBe('string');
      });
    });
  });

  describe('verify', () => {
    /** A routed stream as the filter and writers leave it: low values in files, high in both databases. */
    async function plant(source: string, records: readonly DataRecord[], dir: string): Promise<void> {
      const low = records.filter((r) => r.randomValue <= 90);
      const high = records.filter((r) => r.randomValue > 90);
      for (const r of low) appendFileSync(join(dir, hourFileName(r.timestamp)), `${JSON.stringify(r)}\n`);
      for (const r of high) {
        await pg.query(
          'INSERT INTO data_records (source, seq, "timestamp", random_value, hash_value) VALUES ($1, $2, $3, $4, $5)',
          [r.source, r.seq, r.timestamp, r.randomValue, r.hashValue],
        );
      }
      await insertDocuments(source, nestStream(high));
    }

    async function insertDocuments(source: string, documents: readonly NestedDocument[]): Promise<void> {
      if (documents.length === 0) return;
      await mongo
        .db()
        .collection<{ _id: string }>('data_records')
        .insertMany(documents.map((d) => ({ _id: `${source}:${d.seq}:${Math.random()}`, ...d })));
    }

    /**
     * seq 1..40, then a generator restart: 10001..10010. Every third record is high (both
     * databases); their hashes make documents of two, then one: [3 6] [9] [12 15] [18] ...
     */
    function stream(source: string): DataRecord[] {
      const seqs = [
        ...Array.from({ length: 40 }, (_, i) => i + 1),
        ...Array.from({ length: 10 }, (_, i) => 10_001 + i),
      ];
      return seqs.map((seq) => {
        if (seq % 3 !== 0) return makeRecord(source, seq, 40);
        const k = seq / 3;
        return recordWithExactHash(source, seq, k % 3 === 0 ? '12' : k % 3 === 1 ? 'c4' : 'e7');
      });
    }

    type Report = {
      sources: {
        source: string;
        counts: { file: number; postgres: number; mongo: number };
        gaps: { missingCount: number; skippedCount: number; missing: { from: number; to: number }[] };
        duplicated: { mongo: { count: number; seqs: number[] } };
        onlyInPostgres: { count: number; seqs: number[] };
        nesting: { misnested: number; unexpectedExamples: string[]; missingExamples: string[] };
        findings: number;
      }[];
      fileSink: { tornLines: number };
      totals: { findings: number };
    };

    it('passes a clean set, with the generator block skip as information', async () => {
      const source = freshSource('clean');
      const dir = tempDir();
      const records = stream(source);
      await plant(source, records, dir);
      const result = await cli(['verify', '--source', source, '--file-dir', dir, '--json']);
      expect(result.code).toBe(0);
      const [report] = json<Report>(result).sources;
      expect(report).toMatchObject({
        source,
        counts: { file: 34, postgres: 16, mongo: 16 },
        gaps: { missingCount: 0, skippedCount: 10_000 - 40 },
        findings: 0,
      });
      const text = await cli(['verify', '--source', source, '--file-dir', dir]);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('OK: no findings in 1 source');
      expect(text.stdout).toContain('9,960 seqs skipped by generator restarts');
    });

    it('finds a gap, a duplicate, a misnesting, a one-sided record and a torn line, and exits 1', async () => {
      const source = freshSource('broken');
      const dir = tempDir();
      const records = stream(source).filter((r) => r.seq !== 7 && r.seq !== 8); // a gap in the file sink
      await plant(source, records, dir);
      // A duplicate across documents: seq 9 (a document of its own) stored a second time.
      const nine = records.find((r) => r.seq === 9) as DataRecord;
      await insertDocuments(source, [{ ...nine, nestedRecords: [] }]);
      // A misnesting: 15 belongs nested into the document of 12, stored as a document of its own.
      const documents = mongo
        .db()
        .collection<{ _id: string; seq: number; nestedRecords: DataRecord[] }>('data_records');
      const fifteen = records.find((r) => r.seq === 15) as DataRecord;
      await documents.updateOne({ source, seq: 12 }, { $set: { nestedRecords: [] } });
      await insertDocuments(source, [{ ...fifteen, nestedRecords: [] }]);
      // A record only PostgreSQL got.
      const extra = makeRecord(source, 41, 99);
      await pg.query(
        'INSERT INTO data_records (source, seq, "timestamp", random_value, hash_value) VALUES ($1, $2, $3, $4, $5)',
        [extra.source, extra.seq, extra.timestamp, extra.randomValue, extra.hashValue],
      );
      // A torn line in an old file (not one being written right now).
      const torn = join(dir, 'records-2020-01-01T00.ndjson');
      writeFileSync(torn, `{"source":"${source}","seq":1`);
      utimesSync(torn, new Date('2020-01-01T00:30:00Z'), new Date('2020-01-01T00:30:00Z'));

      const result = await cli(['verify', '--source', source, '--file-dir', dir, '--json']);
      expect(result.code).toBe(1);
      const parsed = json<Report>(result);
      const [report] = parsed.sources;
      expect(report?.gaps.missing).toEqual([{ from: 7, to: 8 }]);
      expect(report?.duplicated.mongo).toEqual({ count: 1, seqs: [9] });
      expect(report?.onlyInPostgres).toEqual({ count: 1, seqs: [41] });
      // The second [9] and the split [12] [15] are not the rule's; [12 15] is missing.
      expect(report?.nesting).toMatchObject({
        misnested: 4,
        unexpectedExamples: ['9:', '12:', '15:'],
        missingExamples: ['12:15'],
      });
      expect(parsed.fileSink.tornLines).toBe(1);
      expect(parsed.totals.findings).toBeGreaterThanOrEqual(5);

      const text = await cli(['verify', '--source', source, '--file-dir', dir]);
      expect(text.code).toBe(1);
      expect(text.stdout).toContain('missing 2 seqs: 7..8');
      expect(text.stdout).toContain('misnested documents');
      expect(text.stdout).toContain('duplicate in mongo: seq 9');
      expect(text.stdout).toContain('1 in PostgreSQL but not MongoDB: 41');

      // A seq window that leaves the planted problems out is clean.
      const window = await cli([
        'verify',
        '--source',
        source,
        '--file-dir',
        dir,
        '--from-seq',
        '10001',
        '--to-seq',
        '10010',
        '--since',
        '2024-01-01T00:00:00Z',
      ]);
      expect(window.stderr).toBe('');
      expect(window.stdout).toContain('OK: no findings');
      expect(window.code).toBe(0);
    });

    it('fails with one line when a store cannot be reached', async () => {
      const dir = tempDir();
      mkdirSync(dir, { recursive: true });
      const result = await cli(['verify', '--file-dir', dir, '--sinks', 'file,postgres'], {
        DATABASE_URL: 'postgres://postgres:secret@127.0.0.1:1/dataflow',
      });
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toMatch(/^dataflow: cannot connect to PostgreSQL at .*ECONNREFUSED/);
      expect(result.stderr).not.toContain('secret');
    });
  });

  describe('tail', () => {
    let filter: AppProcess;
    const token = `tail-token-${process.pid}`;

    beforeAll(async () => {
      filter = await new AppProcess('filter', 3222, {
        FILTER_OUTPUT_DIR: tempDir(),
        FILTER_ADMIN_TOKEN: token,
      }).start();
      await waitFor(async () => (await filter.get('/health/ready')).status === 200, 60_000, 'filter ready');
    });

    afterAll(async () => {
      await filter?.stop();
      await rabbit.purgeAll();
    });

    async function send(records: DataRecord[]): Promise<void> {
      const socket = new WebSocket('ws://127.0.0.1:3222/ingest');
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      const acked = new Set<number>();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no ack from the filter')), 30_000);
        socket.on('message', (data: Buffer) => {
          const frame = JSON.parse(data.toString()) as { event: string; data: { seqs?: number[] } };
          if (frame.event === 'ack') for (const seq of frame.data.seqs ?? []) acked.add(seq);
          if (records.every((r) => acked.has(r.seq))) {
            clearTimeout(timer);
            resolve();
          }
        });
        socket.send(JSON.stringify({ event: 'records', data: records }));
      });
      socket.close();
    }

    it('prints the routed records passing a running filter', async () => {
      const source = freshSource('tail');
      const records = [
        makeRecord(source, 1, 95),
        makeRecord(source, 2, 10),
        makeRecord(source, 3, 99),
        makeRecord(source, 4, 50),
      ];
      const { child, result } = startCli(['tail', '--filter-url', 'http://127.0.0.1:3222', '--json', '--count', '4'], {
        FILTER_ADMIN_TOKEN: token,
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await waitFor(() => stderr.includes('connected'), 30_000, 'tail to connect');
      await send(records);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const done = await result.finally(() => clearTimeout(timer));
      expect(done?.code).toBe(0);
      const lines = (done?.stdout ?? '')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as DataRecord & { route: string; rule: string; rulesVersion: string });
      expect(lines.map((l) => [l.source, l.seq, l.route])).toEqual([
        [source, 1, 'queue'],
        [source, 2, 'file'],
        [source, 3, 'queue'],
        [source, 4, 'file'],
      ]);
      expect(lines[0]).toMatchObject({ ...records[0], route: 'queue' });
      expect(typeof lines[0]?.rule).toBe('string');

      // A route filter, in text form.
      const second = freshSource('tail-file');
      const filtered = startCli(['tail', '--filter-url', 'http://127.0.0.1:3222', '--route', 'file', '--count', '1'], {
        FILTER_ADMIN_TOKEN: token,
      });
      let filteredErr = '';
      filtered.child.stderr?.on('data', (chunk: Buffer) => (filteredErr += chunk.toString()));
      await waitFor(() => filteredErr.includes('connected'), 30_000, 'tail to connect');
      await send([makeRecord(second, 1, 97), makeRecord(second, 2, 5)]);
      const text = await filtered.result;
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`${second}:2`);
      expect(text.stdout).toContain('-> file');
      expect(text.stdout).not.toContain(`${second}:1 `);
    });

    it('exits 2 on a wrong token', async () => {
      const result = await cli(['tail', '--filter-url', 'http://127.0.0.1:3222', '--token', 'wrong']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('HTTP 401');
    });

    it('exits 0 on Ctrl-C', async () => {
      const { child, result } = startCli(['tail', '--filter-url', 'http://127.0.0.1:3222'], {
        FILTER_ADMIN_TOKEN: token,
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await waitFor(() => stderr.includes('connected'), 30_000, 'tail to connect');
      child.kill('SIGINT');
      expect((await result).code).toBe(0);
    });
  });
});
