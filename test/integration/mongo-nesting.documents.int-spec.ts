import { Db, MongoClient } from 'mongodb';
import type { NestedDocument } from '@dataflow/contracts';
import { INSERT_CHUNK, MongoNestingDocuments } from '../../apps/mongo-writer/src/storage/mongo-nesting.documents';
import { openNestingDatabase } from '../support/nesting-database';
import { makeRecord } from '../support/records';

/**
 * The ordered insert the nesting relies on, against the real server: it must stop at the first
 * document that exists and write nothing after it, also past the point where FerretDB splits a
 * command into SQL statements (it would run the next statement anyway).
 */
describe('mongo-writer documents: an ordered insert stops at the first existing document', () => {
  let client: MongoClient;
  let db: Db;
  let documents: MongoNestingDocuments;

  beforeAll(async () => {
    ({ client, db, documents } = await openNestingDatabase('dataflow_nesting_documents'));
  });

  afterAll(async () => {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
  });

  it.each([5, INSERT_CHUNK - 1, INSERT_CHUNK + 7])('existing document at %i of 250', async (existing) => {
    const source = `ordered-${existing}`;
    const planned: NestedDocument[] = Array.from({ length: 250 }, (_, i) => ({
      ...makeRecord(source, i + 1, 10),
      nestedRecords: [],
    }));
    await documents.insertInOrder([planned[existing] as NestedDocument]);
    const result = await documents.insertInOrder(planned);
    expect(result).toEqual({ inserted: existing, conflict: true });
    const stored = await db
      .collection('data_records')
      .find({ source }, { projection: { seq: 1 } })
      .toArray();
    expect(stored.map((d) => d.seq as number).sort((a, b) => a - b)).toEqual(
      Array.from({ length: existing + 1 }, (_, i) => i + 1),
    );
  });
});
