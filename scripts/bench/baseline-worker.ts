/**
 * One process of the baseline pipeline (see baseline.ts): the same four stages as the product with
 * plain clients and nothing else (no framework, metrics, tracing or logging).
 *
 *   source  ws client: records with seqs and MD5 hashes, frames of `frameRecords` records, at most
 *           `framesInFlight` frames unacknowledged and at most `maxBacklog` records not yet stored in both
 *           databases (the orchestrator writes the stored count to its stdin), so it runs at the rate
 *           the slowest stage sustains instead of filling the queues
 *   router  ws server: validates every record, publishes each frame as one persistent message with
 *           publisher confirms, acknowledges the frame once the broker confirmed it
 *   pg      consumer: INSERT ... ON CONFLICT (source, seq) DO NOTHING of what arrived during the last
 *           write, acknowledged after the commit
 *   mongo   consumer: the nesting rule (libs/contracts planNesting) with the tail of each source kept
 *           in memory (the single consumer), appended with $push, new documents inserted in 4 parallel
 *           parts, acknowledged after the write
 *
 * Usage: baseline-worker.ts <role> <json settings>. Every 50 ms a worker prints one JSON line with
 * its running count (records sent, routed or stored).
 */
import amqp, { type ConsumeMessage } from 'amqplib';
import { type Collection, MongoClient } from 'mongodb';
import { Client } from 'pg';
import { createInterface } from 'node:readline';
import WebSocket, { WebSocketServer } from 'ws';
import {
  computeHash,
  type DataRecord,
  type NestedDocument,
  type NestingTail,
  planNesting,
  RECORDS_PATTERN,
  validateRecord,
} from '@dataflow/contracts';

export interface BaselineSettings {
  readonly rabbitmqUrl: string;
  readonly databaseUrl: string;
  readonly mongodbUrl: string;
  readonly exchange: string;
  readonly postgresQueue: string;
  readonly mongoQueue: string;
  readonly table: string;
  readonly collection: string;
  readonly port: number;
  readonly source: string;
  readonly frameRecords: number;
  readonly framesInFlight: number;
  readonly prefetch: number;
  readonly maxBacklog: number;
}

let count = 0;
/** insertMany calls of one write at the same time. */
const PARALLEL_INSERTS = 4;

async function source(s: BaselineSettings): Promise<void> {
  const socket = new WebSocket(`ws://127.0.0.1:${s.port}`);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  let seq = 0;
  let inFlight = 0;
  let stored = 0;
  const send = (): void => {
    while (inFlight < s.framesInFlight && seq - stored < s.maxBacklog) {
      const data: DataRecord[] = new Array<DataRecord>(s.frameRecords);
      const timestamp = Date.now();
      for (let i = 0; i < s.frameRecords; i++) {
        const randomValue = Math.floor(Math.random() * 101);
        data[i] = {
          source: s.source,
          seq: ++seq,
          timestamp,
          randomValue,
          hashValue: computeHash(timestamp, randomValue),
        };
      }
      socket.send(JSON.stringify({ event: 'records', data }));
      inFlight++;
    }
  };
  socket.on('message', () => {
    inFlight--;
    count += s.frameRecords;
    send();
  });
  createInterface({ input: process.stdin }).on('line', (line) => {
    stored = Number(line);
    send();
  });
  send();
}

async function router(s: BaselineSettings): Promise<void> {
  const connection = await amqp.connect(s.rabbitmqUrl, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  const server = new WebSocketServer({ port: s.port, host: '127.0.0.1' });
  server.on('connection', (socket) => {
    socket.on('message', (raw: Buffer) => {
      const frame = JSON.parse(raw.toString()) as { data: unknown[] };
      const valid = frame.data.flatMap((item) => {
        const result = validateRecord(item);
        return result.ok ? [result.record] : [];
      });
      const body = Buffer.from(JSON.stringify({ pattern: RECORDS_PATTERN, data: valid }));
      channel.publish(s.exchange, RECORDS_PATTERN, body, { persistent: true }, (error) => {
        if (error) throw error;
        count += valid.length;
        socket.send('{"event":"ack"}');
      });
    });
  });
}

/**
 * Consumes `queue` and hands what arrived during the previous write to `write` at once (no timer),
 * acknowledging every message of a write after it committed.
 */
async function consume(s: BaselineSettings, queue: string, write: (records: DataRecord[]) => Promise<void>) {
  const connection = await amqp.connect(s.rabbitmqUrl, { noDelay: true });
  const channel = await connection.createChannel();
  await channel.prefetch(s.prefetch);
  let waiting: ConsumeMessage[] = [];
  let writing = false;
  const next = async (): Promise<void> => {
    if (writing || waiting.length === 0) return;
    writing = true;
    const batch = waiting;
    waiting = [];
    const records = batch.flatMap((m) => (JSON.parse(m.content.toString()) as { data: DataRecord[] }).data);
    await write(records);
    channel.ack(batch.at(-1) as ConsumeMessage, true);
    count += records.length;
    writing = false;
    void next();
  };
  await channel.consume(queue, (message) => {
    if (!message) return;
    waiting.push(message);
    void next();
  });
}

async function pg(s: BaselineSettings): Promise<void> {
  const client = new Client({ connectionString: s.databaseUrl });
  await client.connect();
  await consume(s, s.postgresQueue, async (records) => {
    for (let start = 0; start < records.length; start += 1000) {
      const chunk = records.slice(start, start + 1000);
      const values: unknown[] = [];
      const rows = chunk.map((r, i) => {
        values.push(r.source, r.seq, r.timestamp, r.randomValue, r.hashValue);
        const p = i * 5;
        return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5})`;
      });
      await client.query(
        `INSERT INTO ${s.table} (source, seq, "timestamp", random_value, hash_value) VALUES ${rows.join(', ')}
         ON CONFLICT (source, seq) DO NOTHING`,
        values,
      );
    }
  });
}

async function mongo(s: BaselineSettings): Promise<void> {
  const client = await MongoClient.connect(s.mongodbUrl);
  const documents: Collection<NestedDocument & { _id: string }> = client.db().collection(s.collection);
  const tails = new Map<string, NestingTail | undefined>();
  await consume(s, s.mongoQueue, async (records) => {
    const bySource = new Map<string, DataRecord[]>();
    for (const record of records) {
      const own = bySource.get(record.source);
      if (own) own.push(record);
      else bySource.set(record.source, [record]);
    }
    for (const [owner, own] of bySource) {
      const plan = planNesting(own, tails.get(owner));
      const tail = tails.get(owner);
      if (plan.appendToTail.length > 0 && tail) {
        await documents.updateOne(
          { source: owner, seq: tail.headSeq },
          { $push: { nestedRecords: { $each: plan.appendToTail } } },
        );
      }
      // New documents are independent of each other (the plan fixed their nesting): inserted in
      // parallel parts, as FerretDB works on several statements at once. Each `_id` is its head,
      // so a repeated insert is refused per document and skipped (idempotent).
      const all = plan.newDocuments.map((document) => ({ ...document, _id: `${owner}:${document.seq}` }));
      const part = Math.ceil(all.length / PARALLEL_INSERTS);
      const parts = [];
      for (let i = 0; i < all.length; i += part) parts.push(all.slice(i, i + part));
      await Promise.all(parts.map((docs) => documents.insertMany(docs, { ordered: false }).catch(skipDuplicates)));
      tails.set(owner, plan.tail);
    }
  });
}

/** An unordered insert that failed only on documents stored already has done its work. */
function skipDuplicates(error: unknown): void {
  const writeErrors = (error as { writeErrors?: Array<{ code?: number }> }).writeErrors;
  if (!writeErrors || writeErrors.length === 0 || writeErrors.some((e) => e.code !== 11000)) throw error;
}

const roles = { source, router, pg, mongo } as const;
const role = process.argv[2] as keyof typeof roles;
const settings = JSON.parse(process.argv[3] ?? '{}') as BaselineSettings;
roles[role](settings).then(
  // Ready: the count from now on, every 250 ms.
  () => setInterval(() => process.stdout.write(`${JSON.stringify({ count, at: Date.now() })}\n`), 50),
  (error: unknown) => {
    process.stderr.write(`baseline ${role}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
