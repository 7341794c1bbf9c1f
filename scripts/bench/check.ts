import { DataRecord, NestedDocument, nestStream, validateRecord } from '@dataflow/contracts';
import { flatten } from '../chaos/reconcile';

export interface StepCheck {
  readonly acknowledged: number;
  readonly inFiles: number;
  readonly inPostgres: number;
  readonly inMongo: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly misnested: number;
  readonly problems: string[];
}

function seqCounts(records: readonly DataRecord[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const { seq } of records) counts.set(seq, (counts.get(seq) ?? 0) + 1);
  return counts;
}

function signature(document: NestedDocument): string {
  return `${document.seq}:${(document.nestedRecords ?? []).map((r) => r.seq).join(',')}`;
}

/**
 * The check of one step whose generator ran once from seq 1, was never killed and had nothing
 * refused: seqs 1..acknowledged must each be stored exactly once in every sink of their route
 * (file sink at or below the threshold, PostgreSQL and MongoDB above it) and nowhere else, every
 * stored record must be valid and equal across sinks, and the MongoDB documents must equal the
 * nesting rule applied to the stored stream. Linear in the number of records, for steps larger
 * than the general reconciliation handles.
 */
export function checkSingleRun(
  threshold: number,
  acknowledged: number,
  files: readonly DataRecord[],
  postgres: readonly DataRecord[],
  mongoDocuments: readonly NestedDocument[],
): StepCheck {
  const problems: string[] = [];
  const mongo = flatten(mongoDocuments);
  const sinks = [
    ['file sink', files, seqCounts(files)],
    ['PostgreSQL', postgres, seqCounts(postgres)],
    ['MongoDB', mongo, seqCounts(mongo)],
  ] as const;

  const content = new Map<number, DataRecord>();
  let invalid = 0;
  let differing = 0;
  let outside = 0;
  for (const [, records] of sinks) {
    for (const record of records) {
      if (!validateRecord(record).ok) invalid++;
      if (record.seq < 1 || record.seq > acknowledged) outside++;
      const seen = content.get(record.seq);
      if (!seen) content.set(record.seq, record);
      else if (
        seen.timestamp !== record.timestamp ||
        seen.randomValue !== record.randomValue ||
        seen.hashValue !== record.hashValue
      ) {
        differing++;
      }
    }
  }
  if (invalid > 0) problems.push(`${invalid} invalid records stored`);
  if (differing > 0) problems.push(`${differing} records differ between sinks`);
  if (outside > 0) problems.push(`${outside} records with a seq that was never acknowledged`);

  let lost = 0;
  let duplicated = 0;
  let misrouted = 0;
  for (const [, , counts] of sinks) {
    for (const count of counts.values()) if (count > 1) duplicated += count - 1;
  }
  for (let seq = 1; seq <= acknowledged; seq++) {
    const record = content.get(seq);
    if (!record) {
      lost++;
      continue;
    }
    const toQueue = record.randomValue > threshold;
    const inFile = (sinks[0][2].get(seq) ?? 0) > 0;
    const inPostgres = (sinks[1][2].get(seq) ?? 0) > 0;
    const inMongo = (sinks[2][2].get(seq) ?? 0) > 0;
    if (toQueue ? !inPostgres || !inMongo : !inFile) lost++;
    if (toQueue ? inFile : inPostgres || inMongo) misrouted++;
  }
  if (lost > 0) problems.push(`${lost} acknowledged records missing from a sink of their route`);
  if (duplicated > 0) problems.push(`${duplicated} duplicates`);
  if (misrouted > 0) problems.push(`${misrouted} records in a sink their route does not lead to`);

  const stream = [...new Map(mongo.map((r) => [r.seq, r])).values()].sort((a, b) => a.seq - b.seq);
  const expected = new Map<string, number>();
  for (const document of nestStream(stream)) {
    const key = signature(document);
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  let misnested = 0;
  for (const document of mongoDocuments) {
    const key = signature(document);
    const count = expected.get(key) ?? 0;
    if (count > 0) expected.set(key, count - 1);
    else misnested++;
  }
  for (const count of expected.values()) misnested += count;
  if (misnested > 0) problems.push(`${misnested} documents nested wrongly`);

  return {
    acknowledged,
    inFiles: sinks[0][2].size,
    inPostgres: sinks[1][2].size,
    inMongo: sinks[2][2].size,
    lost,
    duplicated,
    misnested,
    problems,
  };
}
