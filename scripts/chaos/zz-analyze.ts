import { readMongo, readPostgres, reconcile } from './reconcile';
async function main(): Promise<void> {
  const source = process.argv[2] as string;
  const pg = await readPostgres('postgres://postgres:postgres@127.0.0.1:5432/dataflow', source);
  const docs = await readMongo('mongodb://127.0.0.1:27017/dataflow', source);
  const r = reconcile(source, -1, [], { fileRecords: [], fileBadLines: 0, postgresRecords: pg, mongoDocuments: docs });
  const ranges = (xs: number[]): string => { const out: string[] = []; let i = 0; while (i < xs.length) { let j = i; while (j + 1 < xs.length && xs[j + 1] === (xs[j] as number) + 1) j++; out.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`); i = j + 1; } return out.join(', '); };
  console.log({ pg: r.inPostgres, mongo: r.inMongo, dup: r.duplicated, misnested: r.misnested, ex: r.misnestedExamples, onlyPg: r.onlyInPostgres.length, onlyMongo: r.onlyInMongo.length });
  console.log('only in PostgreSQL:', ranges(r.onlyInPostgres));
  const maxMongo = Math.max(...docs.flatMap((d) => [d.seq, ...d.nestedRecords.map((n) => n.seq)]));
  console.log('max mongo seq', maxMongo, 'max pg seq', Math.max(...pg.map((x) => x.seq)));
}
void main();
