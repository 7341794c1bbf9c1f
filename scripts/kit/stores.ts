import { MongoClient } from 'mongodb';
import { existsSync } from 'node:fs';
import { Client } from 'pg';
import type { DataRecord, NestedDocument } from '@dataflow/contracts';
import type { Progress } from '../../cli/lib/output';
import { scanFileSink, scanMongo, scanPostgres } from '../../cli/verify/readers';

/**
 * What the stores hold of one source, read with the operator CLI's own readers
 * (`cli/verify/readers.ts`, the ones `dataflow verify` streams through), so the tests, chaos, the
 * benchmark and the attack run judge the stores exactly as an operator does. Records or documents
 * that are not valid records are counted, never dropped silently.
 */

const EVERYTHING = {};

const SILENT: Progress = {
  start: () => undefined,
  setTotal: () => undefined,
  increment: () => undefined,
  update: () => undefined,
  stop: () => undefined,
};

export interface FileSinkRecords {
  readonly records: DataRecord[];
  /** Torn, unfinished or invalid lines of the source, and lines naming no source. */
  readonly badLines: number;
}

/** The source's records in the sink files, file by file in name order (none when `dir` is missing). */
export async function fileSinkRecords(dir: string, source: string): Promise<FileSinkRecords> {
  if (!existsSync(dir)) return { records: [], badLines: 0 };
  const records: DataRecord[] = [];
  let invalid = 0;
  const stats = await scanFileSink(
    dir,
    EVERYTHING,
    {
      wants: (owner) => owner === source,
      record: (_owner, record) => records.push(record),
      invalid: () => invalid++,
    },
    source,
    SILENT,
  );
  return { records, badLines: stats.tornLines + stats.incompleteLastLines + stats.unattributed + invalid };
}

/** The source's rows, by seq. Throws on a row that is not a valid record. */
export async function postgresRecords(client: Client, source: string): Promise<DataRecord[]> {
  const records: DataRecord[] = [];
  await scanPostgres(
    client,
    EVERYTHING,
    source,
    {
      wants: () => true,
      record: (_owner, record) => records.push(record),
      invalid: (_owner, where, problem) => {
        throw new Error(`${where}: ${problem}`);
      },
    },
    SILENT,
  );
  return records;
}

/** The source's documents, by head seq. Throws on a document that does not hold valid records. */
export async function mongoDocuments(client: MongoClient, source: string): Promise<NestedDocument[]> {
  const documents: NestedDocument[] = [];
  await scanMongo(
    client,
    EVERYTHING,
    source,
    {
      wants: () => true,
      document: (_owner, head, nested) => documents.push({ ...head, nestedRecords: nested }),
      invalid: (_owner, where, problem) => {
        throw new Error(`${where}: ${problem}`);
      },
    },
    SILENT,
  );
  return documents;
}

/** Seqs per delete of a source's documents (see deleteSource). */
const DELETE_RANGE = 20_000;

/**
 * Deletes every row and document of `source`, and the mongo-writer's nesting tail of it. MongoDB's
 * documents go in ranges of seqs, each starting at one still there: FerretDB runs a delete as one
 * SQL statement with a parameter per document and refuses one of more than 65,535.
 */
export async function deleteSource(pg: Client, mongo: MongoClient, source: string): Promise<void> {
  await pg.query('DELETE FROM data_records WHERE source = $1', [source]).catch((error: unknown) => {
    // No table yet (the db-writer creates it): nothing to delete.
    if ((error as { code?: unknown }).code !== '42P01') throw error;
  });
  const documents = mongo.db().collection<{ _id: string; seq: number }>('data_records');
  for (;;) {
    const left = await documents.findOne({ source }, { projection: { seq: 1 }, sort: { seq: 1 } });
    if (!left) break;
    await documents.deleteMany({ source, seq: { $gte: left.seq, $lt: left.seq + DELETE_RANGE } });
  }
  await mongo.db().collection<{ _id: string }>('nesting_tails').deleteMany({ _id: source });
}

/** Runs `use` with a PostgreSQL connection to `url`, closed afterwards. */
export async function withPostgres<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs `use` with a MongoDB connection to `url`, closed afterwards. */
export async function withMongo<T>(url: string, use: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** What PostgreSQL and MongoDB hold of `source`, each read over its own short-lived connection. */
export async function readStores(
  postgresUrl: string,
  mongoUrl: string,
  source: string,
): Promise<{ postgresRecords: DataRecord[]; mongoDocuments: NestedDocument[] }> {
  const [rows, documents] = await Promise.all([
    withPostgres(postgresUrl, (client) => postgresRecords(client, source)),
    withMongo(mongoUrl, (client) => mongoDocuments(client, source)),
  ]);
  return { postgresRecords: rows, mongoDocuments: documents };
}

/** Deletes the run's rows and documents of `source` (see deleteSource). */
export async function deleteSourceAt(postgresUrl: string, mongoUrl: string, source: string): Promise<void> {
  await withPostgres(postgresUrl, (pg) => withMongo(mongoUrl, (mongo) => deleteSource(pg, mongo, source)));
}
