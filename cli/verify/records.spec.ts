import fc from 'fast-check';
import { DataRecord, NestedDocument, nestStream } from '@dataflow/contracts';
import { checkNesting, duplicateSeqs, flattenDocuments } from './records';

function rec(seq: number, hashValue: string): DataRecord {
  return { source: 's', seq, timestamp: 1_732_500_000_000 + seq, randomValue: 95, hashValue };
}

/** The plain definition: multisets of `head:nested` signatures, stored against the rule's. */
function reference(documents: readonly NestedDocument[]): { unexpected: string[]; missing: string[] } {
  const signature = (d: NestedDocument): string => `${d.seq}:${d.nestedRecords.map((r) => r.seq).join(',')}`;
  const records = flattenDocuments(documents);
  const stream = [...new Map(records.map((r) => [r.seq, r])).values()].sort((a, b) => a.seq - b.seq);
  const expected = new Map<string, number>();
  for (const d of nestStream(stream)) expected.set(signature(d), (expected.get(signature(d)) ?? 0) + 1);
  const unexpected: string[] = [];
  for (const d of documents) {
    const count = expected.get(signature(d)) ?? 0;
    if (count > 0) expected.set(signature(d), count - 1);
    else unexpected.push(signature(d));
  }
  const missing = [...expected.entries()].flatMap(([key, count]) => Array<string>(count).fill(key));
  return { unexpected, missing };
}

describe('shared reconciliation helpers', () => {
  it('flattens documents to their five-field records and finds repeated seqs', () => {
    const documents = nestStream([rec(1, 'af'), rec(2, 'b0'), rec(3, '01')]);
    const withId = documents.map((d) => ({ ...d, _id: `s:${d.seq}` }));
    expect(flattenDocuments(withId).map((r) => Object.keys(r).length)).toEqual([5, 5, 5]);
    expect(duplicateSeqs([{ seq: 3 }, { seq: 1 }, { seq: 3 }, { seq: 1 }, { seq: 2 }])).toEqual([1, 3]);
  });

  it('checkNesting agrees with the signature-multiset definition on tampered document sets', () => {
    const hash = fc.constantFrom('00', '3a', '99', '9a', 'a0', 'ff');
    fc.assert(
      fc.property(
        fc.array(hash, { minLength: 1, maxLength: 30 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('move', 'split', 'copy', 'drop')), { maxLength: 4 }),
        (hashes, edits) => {
          const documents = nestStream(hashes.map((h, i) => rec(i + 1, h))).map((d) => ({
            ...d,
            nestedRecords: [...d.nestedRecords],
          }));
          for (const [a, b, kind] of edits) {
            if (documents.length === 0) break;
            const i = a % documents.length;
            const d = documents[i]!;
            if (kind === 'copy') documents.push({ ...d, nestedRecords: [...d.nestedRecords] });
            if (kind === 'drop') documents.splice(i, 1);
            if (kind === 'split' && d.nestedRecords.length > 0) {
              const [first, ...rest] = d.nestedRecords.splice(b % d.nestedRecords.length);
              if (first) documents.push({ ...first, nestedRecords: rest });
            }
            if (kind === 'move' && documents.length > 1) {
              const j = b % documents.length;
              if (j !== i) {
                const { nestedRecords, ...head } = d;
                documents[j]!.nestedRecords.push(head, ...nestedRecords);
                documents.splice(i, 1);
              }
            }
          }
          const expected = reference(documents);
          const result = checkNesting(documents, 1000);
          expect(result.unexpected).toBe(expected.unexpected.length);
          expect(result.missing).toBe(expected.missing.length);
          expect([...result.unexpectedExamples].sort()).toEqual([...expected.unexpected].sort());
          expect([...result.missingExamples].sort()).toEqual([...expected.missing].sort());
        },
      ),
      { numRuns: 500 },
    );
  });
});
