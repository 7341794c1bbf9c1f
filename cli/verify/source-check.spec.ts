import { DataRecord, nestStream } from '@dataflow/contracts';
import { computeHash } from '@dataflow/contracts';
import { gapLowerBound, inWindow, SinkName, SourceCheck } from './source-check';

function rec(seq: number, randomValue = 95, timestamp = 1_732_500_000_000 + seq * 1000): DataRecord {
  return { source: 's', seq, timestamp, randomValue, hashValue: computeHash(timestamp, randomValue) };
}

const ALL = new Set<SinkName>(['file', 'postgres', 'mongo']);

/** File gets the low records, both databases the high ones, as the default rule routes them. */
function routed(check: SourceCheck, records: readonly DataRecord[]): void {
  const high = records.filter((r) => r.randomValue > 90);
  for (const r of records) if (r.randomValue <= 90) check.add('file', r);
  for (const r of high) check.add('postgres', r);
  for (const { nestedRecords, ...head } of nestStream(high)) check.addDocument(head, nestedRecords);
}

describe('SourceCheck', () => {
  const stream = Array.from({ length: 40 }, (_, i) => rec(i + 1, i % 3 === 0 ? 95 : 40));

  it('finds nothing in a clean routed stream', () => {
    const check = new SourceCheck('s', {});
    routed(check, stream);
    const report = check.finish(ALL);
    expect(report.findings).toBe(0);
    expect(report.firstSeq).toBe(1);
    expect(report.lastSeq).toBe(40);
    expect(report.counts.postgres).toBe(14);
    expect(report.counts.mongo).toBe(14);
  });

  it('reports a record missing from every sink', () => {
    const check = new SourceCheck('s', {});
    routed(
      check,
      stream.filter((r) => r.seq !== 7),
    );
    const report = check.finish(ALL);
    expect(report.gaps?.missing).toEqual([{ from: 7, to: 7 }]);
    expect(report.findings).toBe(1);
  });

  it('reports a generator block skip as information only', () => {
    const check = new SourceCheck('s', {});
    routed(check, [...stream, rec(10_001), rec(10_002, 12)]);
    const report = check.finish(ALL, 10_000);
    expect(report.gaps?.skippedCount).toBe(10_000 - 40);
    expect(report.findings).toBe(0);
  });

  it('reports records in only one database and duplicates within one sink', () => {
    const check = new SourceCheck('s', {});
    routed(check, stream);
    check.add('postgres', rec(41, 99));
    check.add('file', rec(2, 40));
    const report = check.finish(ALL);
    expect(report.onlyInPostgres).toEqual({ count: 1, seqs: [41] });
    expect(report.duplicated.file).toEqual({ count: 1, seqs: [2] });
    expect(report.findings).toBe(2);
  });

  it('counts a seq held by two MongoDB documents as a duplicate', () => {
    const check = new SourceCheck('s', {});
    routed(check, stream);
    check.addDocument(rec(4), []);
    const report = check.finish(ALL);
    expect(report.duplicated.mongo.seqs).toEqual([4]);
    expect(report.findings).toBeGreaterThan(0);
  });

  it('notes records in the file sink and a database as information', () => {
    const check = new SourceCheck('s', {});
    routed(check, stream);
    check.add('file', rec(1, 95));
    expect(check.finish(ALL)).toMatchObject({ inFileAndDatabase: 1, findings: 0 });
  });

  it('reports the same seq with different content as a conflict', () => {
    const check = new SourceCheck('s', {});
    routed(check, stream);
    check.add('file', rec(1, 95, 5));
    const report = check.finish(ALL);
    expect(report.conflicting.seqs).toEqual([1]);
  });

  it('does not judge missing records without the file sink', () => {
    const check = new SourceCheck('s', {});
    routed(check, stream);
    expect(check.finish(new Set<SinkName>(['postgres', 'mongo'])).gaps).toBeUndefined();
  });

  it('keeps whole edge documents for nesting but only window records for the other checks', () => {
    const window = { fromSeq: 3 };
    const check = new SourceCheck('s', window);
    const high = [rec(1), rec(2), rec(3), rec(4)];
    // Whatever their hashes, put all four in one document headed by 1 only when the rule says so.
    for (const { nestedRecords, ...head } of nestStream(high)) check.addDocument(head, nestedRecords);
    for (const r of high) if (inWindow(window, r)) check.add('postgres', r);
    const report = check.finish(new Set<SinkName>(['postgres', 'mongo']));
    expect(report.counts.mongo).toBe(2);
    expect(report.onlyInMongo.count).toBe(0);
    expect(report.nesting?.misnested).toBe(0);
  });

  it('judges gaps from seq 1, from --from-seq, or from the first record for a time window', () => {
    expect(gapLowerBound({})).toBe(1);
    expect(gapLowerBound({ fromSeq: 50 })).toBe(50);
    expect(gapLowerBound({ fromSeq: 50, since: 0 })).toBeUndefined();
  });
});
