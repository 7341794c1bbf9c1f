import type { DataRecord } from './data-record';
import { NestedDocument, NestingTail, nestStream, planNesting } from './nesting-rule';
import { prng } from '../../../test/support/prng';

/** The nesting rule only looks at seq and hashValue; the other fields just travel along. */
function rec(seq: number, hashValue: string, source = 's'): DataRecord {
  return { source, seq, timestamp: 1_732_500_000_000 + seq, randomValue: seq % 101, hashValue };
}

function stream(hashes: readonly string[], firstSeq = 1): DataRecord[] {
  return hashes.map((hash, i) => rec(firstSeq + i, hash));
}

/** Documents as lists of hashes: [head, ...nested]. */
function shape(documents: readonly NestedDocument[]): string[][] {
  return documents.map((d) => [d.hashValue, ...d.nestedRecords.map((r) => r.hashValue)]);
}

/** Applies batches the way the MongoDB writer would: append to the stored tail document, then insert. */
function applyBatches(batches: readonly (readonly DataRecord[])[]): {
  documents: NestedDocument[];
  duplicates: DataRecord[];
} {
  const documents: NestedDocument[] = [];
  const duplicates: DataRecord[] = [];
  let tail: NestingTail | undefined;
  for (const batch of batches) {
    const plan = planNesting(batch, tail);
    if (plan.appendToTail.length > 0) {
      const last = documents[documents.length - 1];
      if (tail === undefined || last === undefined) throw new Error('appendToTail without a stored tail');
      if (last.seq !== tail.headSeq)
        throw new Error(`tail.headSeq ${tail.headSeq} is not the last document ${last.seq}`);
      last.nestedRecords.push(...plan.appendToTail);
    }
    documents.push(...plan.newDocuments);
    duplicates.push(...plan.duplicates);
    tail = plan.tail;
  }
  return { documents, duplicates };
}

function randomHash(random: () => number): string {
  // Half the time a high hash, with the boundary values over-represented, so long runs occur.
  const boundary = ['99', '9a', '9f', 'a0', '00', 'ff', '90', '0a'];
  if (random() < 0.25) return boundary[Math.floor(random() * boundary.length)] as string;
  return Math.floor(random() * 256)
    .toString(16)
    .padStart(2, '0');
}

function randomStream(random: () => number, length: number): DataRecord[] {
  const records: DataRecord[] = [];
  let seq = 1 + Math.floor(random() * 5);
  for (let i = 0; i < length; i++) {
    records.push(rec(seq, randomHash(random)));
    // Mostly +1, sometimes a gap (a refused record or a generator crash).
    seq += random() < 0.85 ? 1 : 2 + Math.floor(random() * 4);
  }
  return records;
}

function randomBatches<T>(random: () => number, items: readonly T[]): T[][] {
  const batches: T[][] = [];
  let i = 0;
  while (i < items.length) {
    const size = 1 + Math.floor(random() * 8);
    batches.push(items.slice(i, i + size));
    i += size;
  }
  return batches;
}

function shuffle<T>(random: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('nestStream: the CONTRACT example', () => {
  it('hashes 3a af b0 9c 12 ff give [3a], [af, b0, 9c], [12], [ff]', () => {
    const documents = nestStream(stream(['3a', 'af', 'b0', '9c', '12', 'ff']));
    expect(shape(documents)).toEqual([['3a'], ['af', 'b0', '9c'], ['12'], ['ff']]);
    expect(documents.map((d) => d.seq)).toEqual([1, 2, 5, 6]);
    expect(documents[1]?.nestedRecords.map((r) => r.seq)).toEqual([3, 4]);
  });

  it('builds documents as the head record fields plus nestedRecords (empty when nothing nests)', () => {
    const records = stream(['3a', 'af', 'b0']);
    const [first, second] = nestStream(records);
    expect(first).toEqual({ ...records[0], nestedRecords: [] });
    expect(second).toEqual({ ...records[1], nestedRecords: [records[2]] });
    expect(Object.keys(first as NestedDocument)).toEqual([
      'source',
      'seq',
      'timestamp',
      'randomValue',
      'hashValue',
      'nestedRecords',
    ]);
  });
});

describe('nestStream: the rule', () => {
  it('returns no documents for no records', () => {
    expect(nestStream([])).toEqual([]);
  });

  it('starts a document for a single high record', () => {
    expect(shape(nestStream(stream(['ff'])))).toEqual([['ff']]);
  });

  it('nests a whole run of high hashes into its first record', () => {
    const hashes = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? 'ff' : '9a'));
    const documents = nestStream(stream(hashes));
    expect(documents).toHaveLength(1);
    expect(documents[0]?.nestedRecords).toHaveLength(49);
  });

  it('never nests low hashes, however many follow each other', () => {
    const documents = nestStream(stream(['00', '99', '12', '90', '0f']));
    expect(shape(documents)).toEqual([['00'], ['99'], ['12'], ['90'], ['0f']]);
  });

  it('does not nest a high record after a low one, nor a low one after a high one', () => {
    expect(shape(nestStream(stream(['99', '9a', '99', 'a0'])))).toEqual([['99'], ['9a'], ['99'], ['a0']]);
    expect(shape(nestStream(stream(['9a', '99', '9a'])))).toEqual([['9a'], ['99'], ['9a']]);
  });

  it('handles alternating runs', () => {
    const documents = nestStream(stream(['ff', 'ee', '01', 'ab', 'cd', 'ef', '02', '03', 'a0', 'a1']));
    expect(shape(documents)).toEqual([['ff', 'ee'], ['01'], ['ab', 'cd', 'ef'], ['02'], ['03'], ['a0', 'a1']]);
  });

  it('treats the predecessor as the previous record present, across seq gaps', () => {
    const records = [rec(1, 'aa'), rec(5, 'bb'), rec(9, '11'), rec(20, 'cc')];
    expect(shape(nestStream(records))).toEqual([['aa', 'bb'], ['11'], ['cc']]);
  });

  it('sorts unsorted input by seq first', () => {
    const records = stream(['3a', 'af', 'b0', '9c', '12', 'ff']);
    const shuffled = [records[4], records[1], records[5], records[0], records[3], records[2]] as DataRecord[];
    expect(nestStream(shuffled)).toEqual(nestStream(records));
  });

  it('does not mutate its input', () => {
    const records = stream(['af', 'b0']).reverse();
    const copy = JSON.parse(JSON.stringify(records)) as DataRecord[];
    nestStream(records);
    expect(records).toEqual(copy);
  });
});

describe('planNesting', () => {
  it('without a tail plans new documents only and returns the tail of the last record', () => {
    const plan = planNesting(stream(['3a', 'af', 'b0']), undefined);
    expect(plan.appendToTail).toEqual([]);
    expect(plan.duplicates).toEqual([]);
    expect(shape(plan.newDocuments)).toEqual([['3a'], ['af', 'b0']]);
    expect(plan.tail).toEqual({ lastSeq: 3, lastHash: 'b0', headSeq: 2 });
  });

  it('continues a run across two calls: the first records of the next batch go to the stored tail', () => {
    const first = planNesting(stream(['3a', 'af', 'b0']), undefined);
    const second = planNesting(stream(['9c', 'dd', '12', 'ff'], 4), first.tail);
    expect(second.appendToTail.map((r) => r.hashValue)).toEqual(['9c', 'dd']);
    expect(shape(second.newDocuments)).toEqual([['12'], ['ff']]);
    expect(second.tail).toEqual({ lastSeq: 7, lastHash: 'ff', headSeq: 7 });
  });

  it('keeps the head of the stored document as headSeq when a whole batch is appended', () => {
    const tail: NestingTail = { lastSeq: 10, lastHash: 'ee', headSeq: 4 };
    const plan = planNesting(stream(['f0', 'f1'], 11), tail);
    expect(plan.appendToTail.map((r) => r.seq)).toEqual([11, 12]);
    expect(plan.newDocuments).toEqual([]);
    expect(plan.tail).toEqual({ lastSeq: 12, lastHash: 'f1', headSeq: 4 });
  });

  it('starts a new document when the stored tail is low even if the new record is high', () => {
    const plan = planNesting(stream(['f0'], 11), { lastSeq: 10, lastHash: '99', headSeq: 10 });
    expect(plan.appendToTail).toEqual([]);
    expect(shape(plan.newDocuments)).toEqual([['f0']]);
  });

  it('drops records at or below tail.lastSeq as duplicates and keeps the tail when nothing is new', () => {
    const tail: NestingTail = { lastSeq: 5, lastHash: 'ab', headSeq: 3 };
    const plan = planNesting([rec(3, 'ab'), rec(5, 'ab'), rec(4, '00')], tail);
    expect(plan.duplicates.map((r) => r.seq)).toEqual([3, 4, 5]);
    expect(plan.appendToTail).toEqual([]);
    expect(plan.newDocuments).toEqual([]);
    expect(plan.tail).toEqual(tail);
  });

  it('drops repeats within the input and nests as if each record came once', () => {
    const plan = planNesting([rec(2, 'bb'), rec(1, 'aa'), rec(2, 'bb'), rec(3, 'cc'), rec(1, 'aa')], undefined);
    expect(plan.duplicates.map((r) => r.seq)).toEqual([1, 2]);
    expect(shape(plan.newDocuments)).toEqual([['aa', 'bb', 'cc']]);
  });

  it('mixes redelivered and new records: only the new ones are planned', () => {
    const first = planNesting(stream(['3a', 'af']), undefined);
    const second = planNesting([rec(2, 'af'), rec(3, 'b0'), rec(4, '9c'), rec(5, '12')], first.tail);
    // seq 2 ('af') is a redelivery, seq 3..5 are new.
    expect(second.duplicates.map((r) => r.seq)).toEqual([2]);
    expect(second.appendToTail.map((r) => r.hashValue)).toEqual(['b0', '9c']);
    expect(shape(second.newDocuments)).toEqual([['12']]);
  });

  it('returns an unchanged tail for an empty batch', () => {
    const tail: NestingTail = { lastSeq: 1, lastHash: 'ff', headSeq: 1 };
    expect(planNesting([], tail)).toEqual({ appendToTail: [], newDocuments: [], duplicates: [], tail });
    expect(planNesting([], undefined).tail).toBeUndefined();
  });
});

describe('planNesting batch by batch equals nestStream of the whole stream (property)', () => {
  it('for random streams split into random consecutive batches', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const random = prng(seed);
      const records = randomStream(random, Math.floor(random() * 60));
      const batches = randomBatches(random, records);
      const { documents, duplicates } = applyBatches(batches);
      expect({ seed, documents }).toEqual({ seed, documents: nestStream(records) });
      expect(duplicates).toEqual([]);
    }
  });

  it('for random streams delivered in shuffled batches with redeliveries of earlier records', () => {
    for (let seed = 1001; seed <= 1300; seed++) {
      const random = prng(seed);
      const records = randomStream(random, 1 + Math.floor(random() * 60));
      const batches = randomBatches(random, records).map((batch, index, all) => {
        // Redeliver a few records of the previous batch (an unacknowledged message coming back).
        const previous = index > 0 ? (all[index - 1] as DataRecord[]) : [];
        const redelivered = previous.filter(() => random() < 0.5);
        return shuffle(random, [...redelivered, ...batch, ...batch.filter(() => random() < 0.2)]);
      });
      const { documents, duplicates } = applyBatches(batches);
      expect({ seed, documents }).toEqual({ seed, documents: nestStream(records) });
      const delivered = batches.reduce((n, batch) => n + batch.length, 0);
      expect(duplicates.length).toBe(delivered - records.length);
    }
  });

  it('every record lands in exactly one document, in seq order', () => {
    for (let seed = 2001; seed <= 2100; seed++) {
      const random = prng(seed);
      const records = randomStream(random, 100);
      const documents = nestStream(shuffle(random, records));
      const flattened = documents.flatMap((d) => [d.seq, ...d.nestedRecords.map((r) => r.seq)]);
      expect(flattened).toEqual(records.map((r) => r.seq));
      for (const document of documents) {
        // A nested record is always high, and so is the head of a document that has nested records.
        for (const nested of document.nestedRecords) expect(nested.hashValue > '99').toBe(true);
        if (document.nestedRecords.length > 0) expect(document.hashValue > '99').toBe(true);
      }
    }
  });
});
