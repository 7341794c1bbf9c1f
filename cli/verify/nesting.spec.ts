import fc from 'fast-check';
import { DataRecord, NestedDocument, nestStream } from '@dataflow/contracts';
import { NestingCheck } from './nesting';

function rec(seq: number, hashValue: string): DataRecord {
  return { source: 's', seq, timestamp: 1_732_500_000_000 + seq, randomValue: 95, hashValue };
}

function check(documents: readonly NestedDocument[]): ReturnType<NestingCheck['result']> {
  const nesting = new NestingCheck();
  for (const { nestedRecords, ...head } of documents) nesting.addDocument(head, nestedRecords);
  return nesting.result();
}

const hash = fc.constantFrom('00', '3a', '99', '9a', 'a0', 'ff', '12', 'c4');

describe('NestingCheck', () => {
  it('accepts the documents of the rule (the CONTRACT example)', () => {
    const records = ['3a', 'af', 'b0', '9c', '12', 'ff'].map((h, i) => rec(i + 1, h));
    expect(check(nestStream(records))).toMatchObject({ documents: 4, misnested: 0 });
  });

  it('flags a high record stored as its own document instead of nested', () => {
    const records = ['3a', 'af', 'b0'].map((h, i) => rec(i + 1, h));
    const wrong: NestedDocument[] = [
      { ...records[0]!, nestedRecords: [] },
      { ...records[1]!, nestedRecords: [] },
      { ...records[2]!, nestedRecords: [] },
    ];
    const result = check(wrong);
    expect(result.misnested).toBe(3);
    expect(result.unexpectedExamples).toEqual(['2:', '3:']);
    expect(result.missingExamples).toEqual(['2:3']);
  });

  it('flags a low record nested into a document', () => {
    const records = ['af', '12'].map((h, i) => rec(i + 1, h));
    const result = check([{ ...records[0]!, nestedRecords: [records[1]!] }]);
    expect(result.unexpected).toBe(1);
    expect(result.missing).toBe(2);
  });

  it('flags the same document stored twice', () => {
    const documents = nestStream(['af', 'b0'].map((h, i) => rec(i + 1, h)));
    expect(check([...documents, ...documents])).toMatchObject({ unexpected: 1, missing: 0, misnested: 1 });
  });

  it('does not care about the order documents arrive in', () => {
    const documents = nestStream(['3a', 'af', 'b0', '9c', '12', 'ff'].map((h, i) => rec(i * 2 + 1, h)));
    expect(check([...documents].reverse()).misnested).toBe(0);
  });

  it('agrees with nestStream on random streams, and notices any moved record', () => {
    fc.assert(
      fc.property(fc.array(hash, { minLength: 2, maxLength: 60 }), fc.nat(), (hashes, pick) => {
        const records = hashes.map((h, i) => rec(i + 1, h));
        const documents = nestStream(records);
        expect(check(documents).misnested).toBe(0);
        // Move the first record of a later document into the previous one: always against the rule.
        const index = 1 + (pick % Math.max(1, documents.length - 1));
        if (documents.length < 2) return;
        const tampered = documents.map((d) => ({ ...d, nestedRecords: [...d.nestedRecords] }));
        const moved = tampered[index]!;
        const { nestedRecords, ...head } = moved;
        tampered[index - 1]!.nestedRecords.push(head, ...nestedRecords);
        tampered.splice(index, 1);
        expect(check(tampered).misnested).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });
});
