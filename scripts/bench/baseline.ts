import amqp from 'amqplib';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { RECORDS_PATTERN } from '@dataflow/contracts';
import { createRecordsTableSql } from '../../apps/db-writer/src/storage/migrations/1732500000000-create-data-records';
import type { ServiceUrls } from '../kit/services';
import { withMongo, withPostgres } from '../kit/stores';
import { errorText } from '../kit/tool';
import { sleep, waitUntil } from '../kit/wait';
import type { BaselineSettings } from './baseline-worker';

/**
 * The baseline pipeline: what this machine can do for the product's work with plain clients and no
 * framework, on the same services in the same bench run; its rate is the denominator of the ratio.
 * Four processes like the product's four apps (see baseline-worker.ts): a source, a router (ws in,
 * validated, published with confirms, acknowledged), a PostgreSQL writer and a MongoDB writer (the
 * nesting rule, tail in memory), both acknowledging after the commit with idempotent inserts. The
 * source sends as fast as its window of unacknowledged frames allows; the rate is what reached
 * both databases over the window, after a warm-up.
 */

/** The baseline's own resources, created fresh and removed afterwards (scripts/bench/cleanup.ts too). */
export const BASELINE = {
  exchange: 'dataflow.bench.baseline',
  postgresQueue: 'dataflow.bench.baseline.postgres',
  mongoQueue: 'dataflow.bench.baseline.mongo',
  table: 'bench_baseline_records',
  collection: 'bench_baseline_records',
} as const;

export interface BaselineOptions extends ServiceUrls {
  readonly durationS: number;
  readonly warmupS: number;
  readonly port: number;
  readonly log: (line: string) => void;
}

export interface BaselineResult {
  /** Stored in both databases: the lower of the two, records/s. */
  readonly recordsPerSecond: number;
  readonly sentPerS: number;
  readonly routedPerS: number;
  readonly postgresPerS: number;
  readonly mongoPerS: number;
  readonly seconds: number;
  readonly shape: string;
  readonly error?: string;
}

type Role = 'source' | 'router' | 'pg' | 'mongo';
const FRAME_RECORDS = 1000;
const FRAMES_IN_FLIGHT = 8;
const PREFETCH = 40;
/** Records sent but not yet stored in both databases, at most (see baseline-worker.ts). */
const MAX_BACKLOG = 100_000;

class Worker {
  readonly process: ChildProcess;
  count = 0;
  ready = false;
  error = '';

  constructor(role: Role, settings: BaselineSettings) {
    this.process = spawn(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        join(__dirname, 'baseline-worker.ts'),
      ].concat([role, JSON.stringify(settings)]),
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    createInterface({ input: this.process.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      this.ready = true;
      this.count = (JSON.parse(line) as { count: number }).count;
    });
    this.process.stderr?.on('data', (chunk: Buffer) => (this.error += chunk.toString()));
  }
}

export async function runBaseline(options: BaselineOptions): Promise<BaselineResult> {
  const settings: BaselineSettings = {
    ...BASELINE,
    rabbitmqUrl: options.rabbitmqUrl,
    databaseUrl: options.databaseUrl,
    mongodbUrl: options.mongodbUrl,
    port: options.port,
    source: `bench-baseline-${Date.now().toString(36)}`,
    frameRecords: FRAME_RECORDS,
    framesInFlight: FRAMES_IN_FLIGHT,
    prefetch: PREFETCH,
    maxBacklog: MAX_BACKLOG,
  };
  const shape =
    `frames of ${FRAME_RECORDS} records, ${FRAMES_IN_FLIGHT} in flight, at most ${MAX_BACKLOG} records not yet stored, ` +
    `one message a frame, prefetch ${PREFETCH}`;
  const workers: Worker[] = [];
  const empty = { recordsPerSecond: 0, sentPerS: 0, routedPerS: 0, postgresPerS: 0, mongoPerS: 0, seconds: 0, shape };
  try {
    await prepare(options);
    const [router, pg, mongo] = (['router', 'pg', 'mongo'] as const).map((role) => new Worker(role, settings));
    workers.push(router as Worker, pg as Worker, mongo as Worker);
    const alive = (): string | undefined => workers.find((w) => w.process.exitCode !== null)?.error || undefined;
    await waitUntil(() => workers.every((w) => w.ready), 60_000, 'the baseline workers', { giveUp: alive });
    const source = new Worker('source', settings);
    workers.unshift(source);
    const tellStored = (): void => {
      source.process.stdin?.write(`${Math.min(pg?.count ?? 0, mongo?.count ?? 0)}\n`);
    };
    const telling = setInterval(tellStored, 20);
    source.process.on('exit', () => clearInterval(telling));
    await waitUntil(() => source.ready, 60_000, 'the baseline source', { giveUp: alive });
    await sleep(options.warmupS * 1000);
    const first = { at: Date.now(), counts: workers.map((w) => w.count) };
    await sleep(options.durationS * 1000);
    const problem = alive();
    if (problem) throw new Error(problem);
    const seconds = (Date.now() - first.at) / 1000;
    const [sentPerS, routedPerS, postgresPerS, mongoPerS] = workers.map(
      (w, i) => (w.count - (first.counts[i] ?? 0)) / seconds,
    ) as [number, number, number, number];
    return {
      recordsPerSecond: Math.min(postgresPerS, mongoPerS),
      sentPerS,
      routedPerS,
      postgresPerS,
      mongoPerS,
      seconds,
      shape,
    };
  } catch (error) {
    return { ...empty, error: errorText(error) };
  } finally {
    for (const worker of workers) {
      worker.process.stdin?.destroy();
      worker.process.kill('SIGKILL');
    }
    await removeBaseline(options).catch((error: unknown) => options.log(`  baseline clean-up: ${errorText(error)}`));
  }
}

/** Fresh topology (like the contract's: quorum queues), table and collection. */
async function prepare(options: ServiceUrls): Promise<void> {
  await removeBaseline(options);
  const connection = await amqp.connect(options.rabbitmqUrl);
  try {
    const channel = await connection.createChannel();
    await channel.assertExchange(BASELINE.exchange, 'direct', { durable: true });
    for (const queue of [BASELINE.postgresQueue, BASELINE.mongoQueue]) {
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      await channel.bindQueue(queue, BASELINE.exchange, RECORDS_PATTERN);
    }
  } finally {
    await connection.close();
  }
  await withPostgres(options.databaseUrl, (pg) => pg.query(createRecordsTableSql(BASELINE.table)));
  await withMongo(options.mongodbUrl, (mongo) =>
    mongo.db().collection(BASELINE.collection).createIndex({ source: 1, seq: -1 }, { name: 'source_seq' }),
  );
}

/** Removes the baseline's queues, exchange, table and collection (what is missing is skipped). */
export async function removeBaseline(options: ServiceUrls): Promise<void> {
  const connection = await amqp.connect(options.rabbitmqUrl);
  try {
    const channel = await connection.createChannel();
    for (const queue of [BASELINE.postgresQueue, BASELINE.mongoQueue]) await channel.deleteQueue(queue);
    await channel.deleteExchange(BASELINE.exchange);
  } finally {
    await connection.close();
  }
  await withPostgres(options.databaseUrl, (pg) => pg.query(`DROP TABLE IF EXISTS ${BASELINE.table}`));
  await withMongo(options.mongodbUrl, (mongo) =>
    mongo
      .db()
      .collection(BASELINE.collection)
      .drop()
      .catch(() => undefined),
  );
}
