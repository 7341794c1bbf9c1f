import { MongoClient } from 'mongodb';
import { existsSync } from 'node:fs';
import { Client } from 'pg';
import type { DataRecord, NestedDocument } from '@dataflow/contracts';
import type { Progress } from '../../cli/lib/output';
import { type RecordVisitor, scanFileSink, scanMongo, scanPostgres } from '../../cli/verify/readers';

/**
 * What the stores hold of one source, read with the operator CLI's own readers
 * (`cli/verify/readers.ts`, the ones `dataflow verify` streams through), so the tests, chaos, the
 * benchmark and the attack run judge the stores exactly as an operator does. A stored value of the
 * source that is not a valid record is kept as it was read (its fields as stored), so the checks
 * that validate every record report it with its seq and reason; nothing is dropped silently.
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
  /** The source's lines, valid or not (see above). */
  readonly records: DataRecord[];
  /** Lines that are not complete JSON (torn or unfinished, of any source), and JSON naming no source. */
  readonly badLines: number;
}

/** A value that failed validation, kept with the fields it has (see above). */
function asStored(partial: Partial<DataRecord>): DataRecord {
  return partial as DataRecord;
}

/** Keeps in `records` every record of the owners it wants, a value that failed validation as stored. */
function collect(records: DataRecord[], wants: (owner: string) => boolean = () => true): RecordVisitor {
  return {
    wants,
    record: (_owner, record) => records.push(record),
    invalid: (_owner, _where, _problem, partial) => records.push(asStored(partial)),
  };
}

/** The source's records in the sink files, file by file in name order (none when `dir` is missing). */
export async function fileSinkRecords(dir: string, source: string): Promise<FileSinkRecords> {
  if (!existsSync(dir)) return { records: [], badLines: 0 };
  const records: DataRecord[] = [];
  const stats = await scanFileSink(
    dir,
    EVERYTHING,
    collect(records, (owner) => owner === source),
    source,
    SILENT,
  );
  return { records, badLines: stats.tornLines + stats.incompleteLastLines + stats.unattributed };
}

/** The source's rows, by seq. */
export async function postgresRecords(client: Client, source: string): Promise<DataRecord[]> {
  const records: DataRecord[] = [];
  await scanPostgres(client, EVERYTHING, source, collect(records), SILENT);
  return records;
}

/**
 * The source's documents, by head seq. A head or nested value that is not a valid record comes
 * after them as a document of its own with nothing nested (see above).
 */
export async function mongoDocuments(client: MongoClient, source: string): Promise<NestedDocument[]> {
  const documents: NestedDocument[] = [];
  const invalid: NestedDocument[] = [];
  await scanMongo(
    client,
    EVERYTHING,
    source,
    {
      wants: () => true,
      document: (_owner, head, nested) => documents.push({ ...head, nestedRecords: nested }),
      invalid: (_owner, _where, _problem, partial) => invalid.push({ ...asStored(partial), nestedRecords: [] }),
    },
    SILENT,
  );
  return [...documents, ...invalid];
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
  const documents = mongo.db().collection<{ _id: string; seq: unknown }>('data_records');
  for (;;) {
    const left = await documents.findOne({ source }, { projection: { seq: 1 }, sort: { seq: 1 } });
    if (!left) break;
    const from = left.seq;
    // A document without a numeric seq cannot be deleted by range: the rest goes in one delete.
    const { deletedCount } =
      typeof from === 'number'
        ? await documents.deleteMany({ source, seq: { $gte: from, $lt: from + DELETE_RANGE } })
        : { deletedCount: 0 };
    if (deletedCount === 0) {
      await documents.deleteMany({ source });
      break;
    }
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
export async function readDatabases(
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
