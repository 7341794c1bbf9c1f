import { DataRecord, NestedDocument, validateRecord } from '@dataflow/contracts';
// The pure checks are shared with `dataflow verify` (cli/verify), so both reconcile the same way.
import { checkNesting, duplicateSeqs, flattenDocuments } from '../../cli/verify/records';

/**
 * One lifetime of the generator process (start to SIGKILL, or to the final SIGTERM). Its counters
 * start from zero; `firstSeq` is one past the block reserved in the seq file when it started.
 */
export interface GeneratorLifetime {
  readonly firstSeq: number;
  /** `dataflow_records_total{stage="generate",outcome="ok"}`, last value seen. */
  generated: number;
  /** `dataflow_records_total{stage="deliver",outcome="acked"}`, last value seen. */
  acked: number;
  /** `dataflow_records_total{stage="deliver",outcome="refused"}`, last value seen. */
  refused: number;
  /** How it ended. */
  end: 'running' | 'killed' | 'stopped';
  /** The seq file's value right after it ended: the last seq it could have used. */
  reservedUpTo?: number;
  /** It stopped on SIGTERM with exit 0 and did not log unacknowledged records: everything generated was settled. */
  cleanDrain?: boolean;
}

/**
 * The routing rules were changed from `from` to `to` (still changed when undefined): records
 * generated then may have taken the changed route or the run's threshold route.
 */
export interface RouteWindow {
  readonly from: number;
  readonly to: number | undefined;
}

export interface StoreContents {
  readonly fileRecords: DataRecord[];
  /** Lines in the sink files that are not a complete JSON record (a torn line, garbage). */
  readonly fileBadLines: number;
  readonly postgresRecords: DataRecord[];
  readonly mongoDocuments: NestedDocument[];
}

export interface LifetimeResult {
  readonly index: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly end: GeneratorLifetime['end'];
  readonly generated: number;
  readonly acknowledged: number;
  readonly stored: number;
  readonly lost: number;
  /** Missing seqs inside the acknowledged prefix [firstSeq, firstSeq + acknowledged - 1]. */
  readonly unexplainedGaps: number[];
  /** Missing seqs after the acknowledged prefix up to the last seq seen generated (unacknowledged at a kill). */
  readonly explainedGaps: number;
  /** Seqs of the reserved block after the last one seen generated: skipped, never used (or generated after the last sample). */
  readonly unused: number;
}

export interface Reconciliation {
  readonly source: string;
  readonly generated: number;
  readonly acknowledged: number;
  readonly maxSeq: number;
  readonly storedDistinct: number;
  readonly inFiles: number;
  readonly inPostgres: number;
  readonly inMongo: number;
  /** Σ over lifetimes of max(0, acknowledged − distinct seqs stored in its seq range). */
  readonly lost: number;
  /** The brief's global form: max(0, acknowledged − distinct seqs in files ∪ PostgreSQL). */
  readonly lostGlobal: number;
  readonly unexplainedGaps: number[];
  readonly duplicated: { readonly files: number[]; readonly postgres: number[]; readonly mongo: number[] };
  readonly duplicatedTotal: number;
  readonly misnested: number;
  readonly misnestedExamples: string[];
  /** Queue records in only one of PostgreSQL and MongoDB. */
  readonly onlyInPostgres: number[];
  readonly onlyInMongo: number[];
  /** Records in a sink their route does not lead to. */
  readonly misrouted: number[];
  /** The same seq with different content in two sinks, or a record that is not valid. */
  readonly corrupt: string[];
  readonly fileBadLines: number;
  readonly lifetimes: LifetimeResult[];
}

// ------------------------------------------------------------------ the checks (pure)

function sameContent(a: DataRecord, b: DataRecord): boolean {
  return (
    a.source === b.source &&
    a.seq === b.seq &&
    a.timestamp === b.timestamp &&
    a.randomValue === b.randomValue &&
    a.hashValue === b.hashValue
  );
}

/** Every record inside a list of documents, heads and nested, in document order. */
export function flatten(documents: readonly NestedDocument[]): DataRecord[] {
  return flattenDocuments(documents);
}

export function reconcile(
  source: string,
  threshold: number,
  lifetimes: readonly GeneratorLifetime[],
  stores: StoreContents,
  routeWindows: readonly RouteWindow[] = [],
): Reconciliation {
  const { fileRecords, postgresRecords, mongoDocuments } = stores;
  const mongoRecords = flatten(mongoDocuments);

  const corrupt: string[] = [];
  const bySeq = new Map<number, DataRecord>();
  const check = (sink: string, record: DataRecord): void => {
    const validation = validateRecord(record);
    if (!validation.ok) {
      corrupt.push(`${sink} seq ${String(record.seq)}: ${validation.message}`);
      return;
    }
    const known = bySeq.get(record.seq);
    if (known && !sameContent(known, validation.record)) {
      corrupt.push(`${sink} seq ${record.seq}: differs from the same seq in another sink`);
    }
    if (!known) bySeq.set(record.seq, validation.record);
  };
  for (const record of fileRecords) check('file', record);
  for (const record of postgresRecords) check('postgres', record);
  for (const record of mongoRecords) check('mongo', record);

  const fileSeqs = new Set(fileRecords.map((r) => r.seq));
  const postgresSeqs = new Set(postgresRecords.map((r) => r.seq));
  const mongoSeqs = new Set(mongoRecords.map((r) => r.seq));

  // Routing: the file sink holds exactly the records at or below the threshold, the queue sinks the
  // rest, except records generated while the rules were changed, which may have either route.
  const ruled = (r: DataRecord): boolean =>
    !routeWindows.some((w) => r.timestamp >= w.from && r.timestamp <= (w.to ?? Number.POSITIVE_INFINITY));
  const misrouted = new Set<number>();
  for (const r of fileRecords) if (r.randomValue > threshold && ruled(r)) misrouted.add(r.seq);
  for (const r of postgresRecords) if (r.randomValue <= threshold && ruled(r)) misrouted.add(r.seq);
  for (const r of mongoRecords) if (r.randomValue <= threshold && ruled(r)) misrouted.add(r.seq);
  const onlyInPostgres = [...postgresSeqs].filter((seq) => !mongoSeqs.has(seq)).sort((a, b) => a - b);
  const onlyInMongo = [...mongoSeqs].filter((seq) => !postgresSeqs.has(seq)).sort((a, b) => a - b);

  // Stored somewhere: the file sink or a queue sink (a record missing from one queue sink only
  // shows up in onlyInPostgres / onlyInMongo).
  const stored = new Set<number>([...fileSeqs, ...postgresSeqs, ...mongoSeqs]);
  let maxSeq = 0; // a loop: spreading a large set into Math.max overflows the stack
  for (const seq of stored) if (seq > maxSeq) maxSeq = seq;

  // Per generator lifetime: acknowledged records are a prefix of its seq range (the filter hands
  // on and acknowledges a source's records in seq order), so every seq in that prefix must be
  // stored; what is missing after it was unacknowledged at a kill, or never used.
  const results: LifetimeResult[] = [];
  const unexplainedGaps: number[] = [];
  let lost = 0;
  lifetimes.forEach((lifetime, index) => {
    const next = lifetimes[index + 1];
    const acknowledged =
      lifetime.cleanDrain === true ? Math.max(lifetime.acked, lifetime.generated - lifetime.refused) : lifetime.acked;
    const lastUsed = lifetime.firstSeq + lifetime.generated - 1;
    const lastSeq = Math.max(
      next ? next.firstSeq - 1 : (lifetime.reservedUpTo ?? lastUsed),
      lastUsed,
      lifetime.firstSeq - 1,
    );
    let storedHere = 0;
    for (const seq of stored) if (seq >= lifetime.firstSeq && seq <= lastSeq) storedHere++;
    const gaps: number[] = [];
    let explainedGaps = 0;
    const prefixEnd = lifetime.firstSeq + acknowledged + lifetime.refused - 1;
    for (let seq = lifetime.firstSeq; seq <= Math.min(lastSeq, Math.max(prefixEnd, lastUsed)); seq++) {
      if (stored.has(seq)) continue;
      if (seq <= prefixEnd) gaps.push(seq);
      else explainedGaps++;
    }
    const lostHere = Math.max(0, acknowledged - storedHere);
    lost += lostHere;
    for (const gap of gaps) unexplainedGaps.push(gap);
    results.push({
      index: index + 1,
      firstSeq: lifetime.firstSeq,
      lastSeq,
      end: lifetime.end,
      generated: lifetime.generated,
      acknowledged,
      stored: storedHere,
      lost: lostHere,
      unexplainedGaps: gaps,
      explainedGaps,
      unused: Math.max(0, lastSeq - Math.max(prefixEnd, lastUsed)),
    });
  });
  const acknowledged = results.reduce((sum, r) => sum + r.acknowledged, 0);
  const lostGlobal = Math.max(0, acknowledged - new Set([...fileSeqs, ...postgresSeqs]).size);

  // Nesting: the stored documents must equal the rule applied to the ordered stream of the
  // records stored in MongoDB.
  const nesting = checkNesting(mongoDocuments);
  const misnestedExamples = [
    ...nesting.unexpectedExamples.map((key) => `stored but not expected [${key}]`),
    ...nesting.missingExamples.map((key) => `expected but not stored [${key}]`),
  ];

  const duplicated = {
    files: duplicateSeqs(fileRecords),
    postgres: duplicateSeqs(postgresRecords),
    mongo: duplicateSeqs(mongoRecords),
  };
  const duplicatedTotal =
    fileRecords.length -
    fileSeqs.size +
    (postgresRecords.length - postgresSeqs.size) +
    (mongoRecords.length - mongoSeqs.size);

  return {
    source,
    generated: lifetimes.reduce((sum, l) => sum + l.generated, 0),
    acknowledged,
    maxSeq,
    storedDistinct: stored.size,
    inFiles: fileSeqs.size,
    inPostgres: postgresSeqs.size,
    inMongo: mongoSeqs.size,
    lost,
    lostGlobal,
    unexplainedGaps,
    duplicated,
    duplicatedTotal,
    misnested: nesting.misnested,
    misnestedExamples,
    onlyInPostgres,
    onlyInMongo,
    misrouted: [...misrouted].sort((a, b) => a - b),
    corrupt,
    fileBadLines: stores.fileBadLines,
    lifetimes: results,
  };
}

// ------------------------------------------------------------------ the direct stream

export interface DirectReconciliation {
  readonly source: string;
  /** Records the broker confirmed. */
  readonly confirmed: number;
  readonly inPostgres: number;
  readonly inMongo: number;
  /** Confirmed records missing from PostgreSQL or MongoDB. */
  readonly lost: number;
  readonly duplicated: { readonly postgres: number[]; readonly mongo: number[] };
  readonly duplicatedTotal: number;
  readonly misnested: number;
  readonly misnestedExamples: string[];
  readonly onlyInPostgres: number[];
  readonly onlyInMongo: number[];
  /** Stored records the run never published (or published with other content). */
  readonly unexpected: number;
}

/**
 * The directly published source: every confirmed record must be in PostgreSQL and in MongoDB once,
 * the records of the message in flight when the publisher stopped may be or not, nothing else may
 * be, and the documents must be the nesting rule over what is stored.
 */
export function reconcileDirect(
  source: string,
  confirmed: readonly DataRecord[],
  unsettled: readonly DataRecord[],
  postgresRecords: readonly DataRecord[],
  mongoDocuments: readonly NestedDocument[],
): DirectReconciliation {
  const mongoRecords = flatten(mongoDocuments);
  const known = new Map<number, DataRecord>();
  for (const record of [...confirmed, ...unsettled]) known.set(record.seq, record);
  const postgresSeqs = new Set(postgresRecords.map((r) => r.seq));
  const mongoSeqs = new Set(mongoRecords.map((r) => r.seq));
  let lost = 0;
  for (const record of confirmed) if (!postgresSeqs.has(record.seq) || !mongoSeqs.has(record.seq)) lost++;
  let unexpected = 0;
  for (const record of [...postgresRecords, ...mongoRecords]) {
    const expected = known.get(record.seq);
    if (!expected || !sameContent(expected, record)) unexpected++;
  }
  const nesting = checkNesting(mongoDocuments);
  const duplicated = { postgres: duplicateSeqs(postgresRecords), mongo: duplicateSeqs(mongoRecords) };
  return {
    source,
    confirmed: confirmed.length,
    inPostgres: postgresSeqs.size,
    inMongo: mongoSeqs.size,
    lost,
    duplicated,
    duplicatedTotal: postgresRecords.length - postgresSeqs.size + (mongoRecords.length - mongoSeqs.size),
    misnested: nesting.misnested,
    misnestedExamples: [
      ...nesting.unexpectedExamples.map((key) => `stored but not expected [${key}]`),
      ...nesting.missingExamples.map((key) => `expected but not stored [${key}]`),
    ],
    onlyInPostgres: [...postgresSeqs].filter((seq) => !mongoSeqs.has(seq)).sort((a, b) => a - b),
    onlyInMongo: [...mongoSeqs].filter((seq) => !postgresSeqs.has(seq)).sort((a, b) => a - b),
    unexpected,
  };
}
