import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import type { DataRecord, NestedDocument } from '@dataflow/contracts';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/dataflow';
export const MONGODB_URL = process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017/dataflow';
/** Seqs per delete of a source's documents (see Stores.deleteSource). */
const DELETE_RANGE = 20_000;

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

  /** Rows of one source ordered by seq (bigints as numbers). */
  async postgresRows(source: string): Promise<DataRecord[]> {
    const { rows } = await this.pg.query<{
      source: string;
      seq: string;
      timestamp: string;
      random_value: number;
      hash_value: string;
    }>('SELECT source, seq, "timestamp", random_value, hash_value FROM data_records WHERE source = $1 ORDER BY seq', [
      source,
    ]);
    return rows.map((r) => ({
      source: r.source,
      seq: Number(r.seq),
      timestamp: Number(r.timestamp),
      randomValue: r.random_value,
      hashValue: r.hash_value,
    }));
  }

  /** Documents of one source ordered by head seq, without `_id`. */
  async mongoDocuments(source: string): Promise<NestedDocument[]> {
    const docs = await this.mongo
      .db()
      .collection('data_records')
      .find({ source }, { projection: { _id: 0 } })
      .sort({ seq: 1 })
      .toArray();
    return docs as unknown as NestedDocument[];
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

  /**
   * Deletes every record of `source`. MongoDB's documents go in ranges of seqs, each starting at one
   * still there: FerretDB runs a delete as one SQL statement with a parameter per document and
   * refuses one of more than 65,535.
   */
  async deleteSource(source: string): Promise<void> {
    await this.pg.query('DELETE FROM data_records WHERE source = $1', [source]).catch(() => undefined);
    const documents = this.mongo.db().collection<{ _id: string; seq: number }>('data_records');
    for (;;) {
      const left = await documents.findOne({ source }, { projection: { seq: 1 } });
      if (!left) break;
      await documents.deleteMany({ source, seq: { $gte: left.seq, $lt: left.seq + DELETE_RANGE } });
    }
    await this.mongo.db().collection<{ _id: string }>('nesting_tails').deleteMany({ _id: source });
  }

  async close(): Promise<void> {
    await this.pg.end().catch(() => undefined);
    await this.mongo.close().catch(() => undefined);
  }
}

/** Every record inside a list of documents, heads and nested, in document order. */
export function flatten(documents: readonly NestedDocument[]): DataRecord[] {
  return documents.flatMap(({ nestedRecords, ...head }) => [head, ...nestedRecords]);
}
