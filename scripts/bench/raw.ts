import amqp from 'amqplib';
import { MongoClient } from 'mongodb';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { Client } from 'pg';
import WebSocket from 'ws';
import { computeHash, DataRecord, nestStream, RECORDS_PATTERN } from '@dataflow/contracts';
import { sleep } from '../kit/wait';
import { errorText } from '../kit/tool';
import { createRecordsTableSql } from '../../apps/db-writer/src/storage/migrations/1732500000000-create-data-records';
import { type ServiceUrls } from '../kit/services';

/** Names of the bench-only resources; they are created fresh and removed afterwards. */
export const RAW_QUEUE = 'dataflow.bench.raw';
export const RAW_TABLE = 'bench_raw_records';
export const RAW_COLLECTION = 'bench_raw_records';

export interface RawOptions extends ServiceUrls {
  readonly durationS: number;
  /** Connections (PostgreSQL, MongoDB) working at the same time. */
  readonly concurrency: number;
  readonly wsFrameRecords: number;
  readonly wsFramesInFlight: number;
  readonly amqpRecordsPerMessage: number;
  readonly amqpConfirmWindow: number;
  readonly pgRowsPerInsert: number;
  readonly mongoRecordsPerInsert: number;
}

export interface RawResult {
  readonly stage: string;
  /** How the records travel: batch size, parallelism. */
  readonly batching: string;
  readonly recordsPerMessage: number;
  readonly messagesPerSecond: number;
  readonly recordsPerSecond: number;
  readonly seconds: number;
  readonly records: number;
  readonly error?: string;
}

/** A pool of valid records; batches reuse their content with fresh seqs. */
function recordPool(size: number): DataRecord[] {
  const now = Date.now();
  return Array.from({ length: size }, (_, i) => {
    const randomValue = Math.floor(Math.random() * 101);
    return {
      source: 'bench-raw',
      seq: i + 1,
      timestamp: now + i,
      randomValue,
      hashValue: computeHash(now + i, randomValue),
    };
  });
}

class Batches {
  private readonly pool = recordPool(4096);
  private nextSeq = 1;

  constructor(readonly source: string) {}

  take(count: number): DataRecord[] {
    const batch: DataRecord[] = new Array<DataRecord>(count);
    for (let i = 0; i < count; i++) {
      const template = this.pool[(this.nextSeq + i) % this.pool.length] as DataRecord;
      batch[i] = { ...template, source: this.source, seq: this.nextSeq + i };
    }
    this.nextSeq += count;
    return batch;
  }
}

function result(
  stage: string,
  batching: string,
  recordsPerMessage: number,
  messages: number,
  seconds: number,
): RawResult {
  return {
    stage,
    batching,
    recordsPerMessage,
    messagesPerSecond: messages / seconds,
    recordsPerSecond: (messages * recordsPerMessage) / seconds,
    seconds,
    records: messages * recordsPerMessage,
  };
}

function failed(stage: string, batching: string, error: unknown): RawResult {
  return {
    stage,
    batching,
    recordsPerMessage: 0,
    messagesPerSecond: 0,
    recordsPerSecond: 0,
    seconds: 0,
    records: 0,
    error: errorText(error),
  };
}

// ------------------------------------------------------------------ WebSocket

export async function benchWebSocket(options: RawOptions): Promise<RawResult> {
  const frameRecords = options.wsFrameRecords;
  const batching = `${frameRecords} records/frame, ${options.wsFramesInFlight} frames in flight, ack per frame`;
  const server = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', join(__dirname, 'ws-server.ts'), '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let text = '';
      server.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const match = /listening (\d+)/.exec(text);
        if (match) resolve(Number(match[1]));
      });
      server.once('exit', () => reject(new Error('the WebSocket server exited')));
      setTimeout(() => reject(new Error('the WebSocket server did not start')), 30_000).unref();
    });
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ingest`);
    await once(socket, 'open');
    const batches = new Batches('bench-raw-ws');
    let acked = 0;
    let inFlight = 0;
    let stopping = false;
    const started = performance.now();
    const deadline = started + options.durationS * 1000;
    let finished: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const send = (): void => {
      while (!stopping && inFlight < options.wsFramesInFlight) {
        inFlight++;
        socket.send(JSON.stringify({ event: 'records', data: batches.take(frameRecords) }));
      }
    };
    socket.on('message', (raw: Buffer) => {
      const frame = JSON.parse(raw.toString()) as { event: string; data: { seqs: number[] } };
      if (frame.event !== 'ack') return;
      acked++;
      inFlight--;
      if (performance.now() >= deadline) stopping = true;
      if (stopping && inFlight === 0) finished();
      else send();
    });
    send();
    await done;
    const seconds = (performance.now() - started) / 1000;
    socket.close();
    return result('WebSocket frames (ws)', batching, frameRecords, acked, seconds);
  } catch (error) {
    return failed('WebSocket frames (ws)', batching, error);
  } finally {
    server.kill('SIGTERM');
  }
}

// ------------------------------------------------------------------ RabbitMQ

export async function benchRabbit(options: RawOptions): Promise<RawResult[]> {
  const perMessage = options.amqpRecordsPerMessage;
  const publishBatching = `${perMessage} records/message, persistent, confirms, ${options.amqpConfirmWindow} unconfirmed max`;
  const consumeBatching = `${perMessage} records/message, prefetch 2000, manual ack, JSON decode`;
  let connection: amqp.ChannelModel | undefined;
  try {
    connection = await amqp.connect(options.rabbitmqUrl, { noDelay: true });
    const channel = await connection.createConfirmChannel();
    await channel.deleteQueue(RAW_QUEUE).catch(() => undefined);
    await channel.assertQueue(RAW_QUEUE, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const batches = new Batches('bench-raw-amqp');

    // Publish: a window of unconfirmed messages, as many as the broker confirms in the time.
    let confirmed = 0;
    let outstanding = 0;
    let failures = 0;
    let stopping = false;
    const started = performance.now();
    const deadline = started + options.durationS * 1000;
    await new Promise<void>((resolve) => {
      const publish = (): void => {
        while (!stopping && outstanding < options.amqpConfirmWindow) {
          outstanding++;
          const body = Buffer.from(JSON.stringify({ pattern: RECORDS_PATTERN, data: batches.take(perMessage) }));
          channel.sendToQueue(RAW_QUEUE, body, { persistent: true, contentType: 'application/json' }, (error) => {
            outstanding--;
            if (error) failures++;
            else confirmed++;
            if (performance.now() >= deadline) stopping = true;
            if (stopping && outstanding === 0) resolve();
            else publish();
          });
        }
      };
      publish();
    });
    const publishSeconds = (performance.now() - started) / 1000;
    if (failures > 0) throw new Error(`${failures} publishes were not confirmed`);
    const publishResult = result('RabbitMQ publish (amqplib)', publishBatching, perMessage, confirmed, publishSeconds);

    // Consume everything just published: prefetch window, ack per message, every body decoded.
    const consumer = await connection.createChannel();
    await consumer.prefetch(2000);
    let consumed = 0;
    const consumeStarted = performance.now();
    await new Promise<void>((resolve, reject) => {
      consumer
        .consume(RAW_QUEUE, (message) => {
          if (!message) return;
          JSON.parse(message.content.toString());
          consumer.ack(message);
          consumed++;
          if (consumed >= confirmed) resolve();
        })
        .catch(reject);
      setTimeout(() => reject(new Error(`consumed only ${consumed} of ${confirmed}`)), 300_000).unref();
    });
    const consumeSeconds = (performance.now() - consumeStarted) / 1000;
    await consumer.close();
    await channel.deleteQueue(RAW_QUEUE);
    await channel.close();
    return [publishResult, result('RabbitMQ consume (amqplib)', consumeBatching, perMessage, consumed, consumeSeconds)];
  } catch (error) {
    return [failed('RabbitMQ publish (amqplib)', publishBatching, error)];
  } finally {
    if (connection) {
      // A fresh channel: the others may be closed by an error.
      await connection
        .createChannel()
        .then(async (channel) => {
          await channel.deleteQueue(RAW_QUEUE);
          await channel.close();
        })
        .catch(() => undefined);
      await connection.close().catch(() => undefined);
    }
  }
}

// ------------------------------------------------------------------ PostgreSQL

/** Runs `worker` on `count` workers until the deadline; returns the batches done and the seconds. */
async function runWorkers(
  count: number,
  durationS: number,
  worker: (index: number) => Promise<void>,
): Promise<{ batches: number; seconds: number }> {
  let batches = 0;
  const started = performance.now();
  const deadline = started + durationS * 1000;
  await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      while (performance.now() < deadline) {
        await worker(index);
        batches++;
      }
    }),
  );
  return { batches, seconds: (performance.now() - started) / 1000 };
}

export async function benchPostgres(options: RawOptions): Promise<RawResult> {
  const rows = options.pgRowsPerInsert;
  const batching = `${rows} rows/INSERT ... ON CONFLICT DO NOTHING RETURNING seq, ${options.concurrency} connection(s)`;
  const clients: Client[] = [];
  try {
    for (let i = 0; i < options.concurrency; i++) {
      const client = new Client({ connectionString: options.databaseUrl });
      client.on('error', () => undefined);
      await client.connect();
      clients.push(client);
    }
    const admin = clients[0] as Client;
    await admin.query(`DROP TABLE IF EXISTS ${RAW_TABLE}`);
    await admin.query(createRecordsTableSql(RAW_TABLE));
    const placeholders = Array.from({ length: rows }, (_, i) => {
      const p = i * 5;
      return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5})`;
    }).join(', ');
    const text =
      `INSERT INTO ${RAW_TABLE} (source, seq, "timestamp", random_value, hash_value) VALUES ${placeholders} ` +
      'ON CONFLICT (source, seq) DO NOTHING RETURNING seq';
    const batches = new Batches('bench-raw-pg');
    const { batches: done, seconds } = await runWorkers(options.concurrency, options.durationS, async (index) => {
      const values: Array<string | number> = [];
      for (const r of batches.take(rows)) values.push(r.source, r.seq, r.timestamp, r.randomValue, r.hashValue);
      await (clients[index] as Client).query(text, values);
    });
    return result('PostgreSQL insert (pg)', batching, rows, done, seconds);
  } catch (error) {
    return failed('PostgreSQL insert (pg)', batching, error);
  } finally {
    await clients[0]?.query(`DROP TABLE IF EXISTS ${RAW_TABLE}`).catch(() => undefined);
    for (const client of clients) await client.end().catch(() => undefined);
  }
}

// ------------------------------------------------------------------ MongoDB (FerretDB)

export async function benchMongo(options: RawOptions): Promise<RawResult> {
  const records = options.mongoRecordsPerInsert;
  const batching =
    `${records} records/insertMany as nested documents (the nesting rule), ` +
    `${options.concurrency} concurrent, index {source, seq}`;
  const client = new MongoClient(options.mongodbUrl, {
    serverSelectionTimeoutMS: 10_000,
    maxPoolSize: options.concurrency + 1,
  });
  try {
    await client.connect();
    const collection = client.db().collection(RAW_COLLECTION);
    await collection.drop().catch(() => undefined);
    await client.db().createCollection(RAW_COLLECTION);
    await collection.createIndex({ source: 1, seq: -1 }, { name: 'source_seq' });
    const batches = new Batches('bench-raw-mongo');
    let documents = 0;
    const { batches: done, seconds } = await runWorkers(options.concurrency, options.durationS, async () => {
      const nested = nestStream(batches.take(records)).map((document) => ({ ...document }));
      documents += nested.length;
      await collection.insertMany(nested, { ordered: true });
    });
    const base = result('MongoDB insert (mongodb, FerretDB)', batching, records, done, seconds);
    return { ...base, batching: `${batching}; ${(documents / Math.max(1, done)).toFixed(0)} documents/insertMany` };
  } catch (error) {
    return failed('MongoDB insert (mongodb, FerretDB)', batching, error);
  } finally {
    await client
      .db()
      .collection(RAW_COLLECTION)
      .drop()
      .catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}

export async function runRawStages(options: RawOptions, log: (line: string) => void): Promise<RawResult[]> {
  const results: RawResult[] = [];
  const report = (r: RawResult): void => {
    results.push(r);
    log(
      r.error
        ? `  ${r.stage}: FAILED ${r.error}`
        : `  ${r.stage}: ${Math.round(r.recordsPerSecond)} records/s, ${Math.round(r.messagesPerSecond)} messages/s (${r.batching})`,
    );
  };
  report(await benchWebSocket(options));
  await sleep(500);
  for (const r of await benchRabbit(options)) report(r);
  await sleep(500);
  report(await benchPostgres(options));
  await sleep(500);
  report(await benchMongo(options));
  return results;
}
