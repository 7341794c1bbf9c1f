import { Db, MongoClient } from 'mongodb';
import type { NestedDocument } from '@dataflow/contracts';
import { INSERT_CHUNK, MongoNestingDocuments } from '../../apps/mongo-writer/src/storage/mongo-nesting.documents';
import { openNestingDatabase } from '../support/nesting-database';
import { makeRecord } from '../support/records';

/**
 * The insert the nesting relies on, against the real server: across its commands (several in
 * flight), every document that does not exist is stored, and every one that does is reported by
 * its index and left as it was.
 */
describe('mongo-writer documents: an insert stores what is missing and reports what exists', () => {
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

  const planned = (source: string): NestedDocument[] =>
    Array.from({ length: 5 * INSERT_CHUNK + 20 }, (_, i) => ({ ...makeRecord(source, i + 1, 10), nestedRecords: [] }));

  it('fills the holes of an earlier, partial insert and leaves the stored documents as they are', async () => {
    const source = 'holes';
    const all = planned(source);
    const existing = [0, 5, INSERT_CHUNK - 1, INSERT_CHUNK, INSERT_CHUNK + 7, 3 * INSERT_CHUNK + 1, all.length - 1];
    // One of them stored with a nested record the plan does not have: the insert must not touch it.
    const altered = INSERT_CHUNK + 7;
    const before = existing.map((i) => {
      const document = all[i] as NestedDocument;
      return i === altered ? { ...document, nestedRecords: [makeRecord(source, 10_000, 90)] } : document;
    });
    expect(await documents.insert(before)).toEqual({ existing: [] });

    expect(await documents.insert(all)).toEqual({ existing });

    const stored = await db
      .collection('data_records')
      .find({ source }, { projection: { seq: 1, nestedRecords: 1 } })
      .toArray();
    expect(stored.map((d) => d.seq as number).sort((a, b) => a - b)).toEqual(all.map((d) => d.seq));
    const kept = stored.find((d) => d.seq === (all[altered] as NestedDocument).seq);
    expect((kept?.nestedRecords as unknown[]).length).toBe(1);
    expect(await documents.readAll(source, [1, 2, 100_000])).toEqual([
      expect.objectContaining({ source, seq: 1 }),
      expect.objectContaining({ source, seq: 2 }),
      undefined,
    ]);
  });
});
