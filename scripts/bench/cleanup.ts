/**
 * Removes what benchmark runs left in the stores (after an interrupted run, or one with
 * --keep-data): every source named `bench-...` in PostgreSQL and MongoDB, and the raw stages'
 * table, collection and queue, and the baseline pipeline's.
 *
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register scripts/bench/cleanup.ts
 */
import amqp from 'amqplib';
import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import { deleteSourceAt } from '../kit/stores';
import { RAW_COLLECTION, RAW_QUEUE, RAW_TABLE } from './raw';
import { errorText } from '../kit/tool';
import { serviceUrls } from '../kit/services';
import { removeBaseline } from './baseline';

async function main(): Promise<void> {
  const urls = serviceUrls();
  const { rabbitmqUrl, databaseUrl, mongodbUrl } = urls;

  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  const { rowCount } = await pg.query("DELETE FROM data_records WHERE source LIKE 'bench-%'");
  await pg.query(`DROP TABLE IF EXISTS ${RAW_TABLE}`);
  await pg.end();
  console.log(`PostgreSQL: ${rowCount ?? 0} rows deleted`);

  const mongo = new MongoClient(mongodbUrl, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  const documents = mongo.db().collection<{ source: string; seq: number }>('data_records');
  const sources = (await documents.distinct('source')).filter((source) => source.startsWith('bench-'));
  for (const source of sources) {
    await deleteSourceAt(databaseUrl, mongodbUrl, source);
  }
  await mongo
    .db()
    .collection<{ _id: string }>('nesting_tails')
    .deleteMany({ _id: { $regex: '^bench-' } });
  await mongo
    .db()
    .collection(RAW_COLLECTION)
    .drop()
    .catch(() => undefined);
  await mongo.close();
  console.log(`MongoDB: ${sources.length} sources deleted`);

  const connection = await amqp.connect(rabbitmqUrl);
  const channel = await connection.createChannel();
  await channel.deleteQueue(RAW_QUEUE);
  await connection.close();
  console.log(`RabbitMQ: ${RAW_QUEUE} deleted`);
  await removeBaseline(urls);
  console.log('baseline pipeline: queues, exchange, table and collection deleted');
}

main().catch((error: unknown) => {
  console.error(`cleanup: ${errorText(error)}`);
  process.exit(1);
});
