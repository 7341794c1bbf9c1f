import { Db, MongoClient } from 'mongodb';
import { MongoNestingDocuments, TAILS_COLLECTION } from '../../apps/mongo-writer/src/storage/mongo-nesting.documents';
import { MONGODB_URL } from './stores';

type Collections = ConstructorParameters<typeof MongoNestingDocuments>;

/** A MongoDB database of the spec's own, emptied, and the mongo-writer's document store on it. */
export async function openNestingDatabase(
  name: string,
): Promise<{ client: MongoClient; db: Db; documents: MongoNestingDocuments }> {
  const url = new URL(MONGODB_URL);
  url.pathname = `/${name}`;
  const client = await MongoClient.connect(url.toString(), { serverSelectionTimeoutMS: 5000 });
  const db = client.db();
  await db.dropDatabase();
  const documents = new MongoNestingDocuments(
    db.collection('data_records') as unknown as Collections[0],
    db.collection(TAILS_COLLECTION) as unknown as Collections[1],
  );
  return { client, db, documents };
}
