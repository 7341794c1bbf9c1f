import type { DataRecord, NestedDocument } from '@dataflow/contracts';
import { NestingCheck, NestingResult } from './nesting';

/** Every record inside a list of documents, heads and nested, in document order (five fields each). */
export function flattenDocuments(documents: readonly NestedDocument[]): DataRecord[] {
  return documents.flatMap(({ nestedRecords, ...head }) => {
    const { source, seq, timestamp, randomValue, hashValue } = head as DataRecord & { _id?: unknown };
    return [{ source, seq, timestamp, randomValue, hashValue }, ...((nestedRecords as DataRecord[] | undefined) ?? [])];
  });
}

/** Seqs present more than once, ascending, each listed once. */
export function duplicateSeqs(records: readonly Pick<DataRecord, 'seq'>[]): number[] {
  const seen = new Set<number>();
  const repeated = new Set<number>();
  for (const { seq } of records) {
    if (seen.has(seq)) repeated.add(seq);
    seen.add(seq);
  }
  return [...repeated].sort((a, b) => a - b);
}

/** The nesting check of `verify` over documents already in memory. */
export function checkNesting(documents: readonly NestedDocument[], keepExamples = 5): NestingResult {
  const check = new NestingCheck();
  for (const document of documents) {
    check.addDocument(document, document.nestedRecords ?? []);
  }
  return check.result(keepExamples);
}
