import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import type { DataRecord, NestedDocument } from '@dataflow/contracts';
import { deleteSource, mongoDocuments, postgresRecords } from '../../scripts/kit/stores';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/dataflow';
export const MONGODB_URL = process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017/dataflow';

/** Reads what the writers stored, straight from PostgreSQL and MongoDB. */
export class Stores {
  private constructor(
    private pg: Client,
    private mongo: MongoClient,
  ) {}

  static async connect(): Promise<Stores> {
    return new Stores(await Stores.openPostgres(), await Stores.openMongo());
  }

  private static async openPostgres(): Promise<Client> {
    const pg = new Client({ connectionString: DATABASE_URL });
    pg.on('error', () => undefined); // a test may stop the server on purpose
    await pg.connect();
    return pg;
  }

  private static async openMongo(): Promise<MongoClient> {
    const mongo = new MongoClient(MONGODB_URL, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    return mongo;
  }

  /** After PostgreSQL was restarted: a new connection (waits until it accepts one). */
  async reconnectPostgres(): Promise<void> {
    await this.pg.end().catch(() => undefined);
    for (let attempt = 0; ; attempt++) {
      try {
        this.pg = await Stores.openPostgres();
        return;
      } catch (error) {
        if (attempt > 60) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  async reconnectMongo(): Promise<void> {
    await this.mongo.close().catch(() => undefined);
    this.mongo = await Stores.openMongo();
  }

  /** Rows of one source ordered by seq (read as `dataflow verify` reads them). */
  postgresRows(source: string): Promise<DataRecord[]> {
    return postgresRecords(this.pg, source);
  }

  /** Documents of one source ordered by head seq (read as `dataflow verify` reads them). */
  mongoDocuments(source: string): Promise<NestedDocument[]> {
    return mongoDocuments(this.mongo, source);
  }

  async mongoIds(source: string): Promise<string[]> {
    const docs = await this.mongo
      .db()
      .collection('data_records')
      .find({ source }, { projection: { _id: 1 } })
      .toArray();
    return docs.map((d) => String(d._id));
  }

  /** Writes a document as the mongo-writer would (`_id` = `source:seq` of its head), bypassing it. */
  async insertMongoDocument(document: NestedDocument): Promise<void> {
    await this.mongo
      .db()
      .collection<{ _id: string }>('data_records')
      .insertOne({ _id: `${document.source}:${document.seq}`, ...document });
  }

  /** Appends records to a stored document's `nestedRecords`, as an interrupted writer could have. */
  async pushNested(source: string, headSeq: number, records: readonly DataRecord[]): Promise<void> {
    await this.mongo
      .db()
      .collection<{ _id: string; nestedRecords: DataRecord[] }>('data_records')
      .updateOne({ _id: `${source}:${headSeq}` }, { $push: { nestedRecords: { $each: [...records] } } });
  }

  /** Deletes every record of `source` (see scripts/kit/stores.ts). */
  deleteSource(source: string): Promise<void> {
    return deleteSource(this.pg, this.mongo, source);
  }

  async close(): Promise<void> {
    await this.pg.end().catch(() => undefined);
    await this.mongo.close().catch(() => undefined);
  }
}

/** Every record inside a list of documents, heads and nested, in document order. */
export { flattenDocuments as flatten } from '../../cli/verify/records';
