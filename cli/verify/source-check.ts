import { DataRecord, SEQ_BLOCK_SIZE } from '@dataflow/contracts';
import { findGaps, GapReport } from './gaps';
import { NestingCheck, NestingResult } from './nesting';
import { fingerprint, SeqList } from './seq-list';

export type SinkName = 'file' | 'postgres' | 'mongo';
export const SINK_NAMES: readonly SinkName[] = ['file', 'postgres', 'mongo'];

/** The part of each source's stream to reconcile; every bound is optional. */
export interface Window {
  readonly fromSeq?: number;
  readonly toSeq?: number;
  /** ms since the epoch, inclusive. */
  readonly since?: number;
  /** ms since the epoch, exclusive. */
  readonly until?: number;
}

export function inWindow(window: Window, record: Pick<DataRecord, 'seq' | 'timestamp'>): boolean {
  return (
    (window.fromSeq === undefined || record.seq >= window.fromSeq) &&
    (window.toSeq === undefined || record.seq <= window.toSeq) &&
    (window.since === undefined || record.timestamp >= window.since) &&
    (window.until === undefined || record.timestamp < window.until)
  );
}

/**
 * Where gap judging starts: seq 1 for a whole stream (a generator starts at 1), the lower seq bound
 * of a seq window, and the first stored seq when a time bound is given (which seqs fall before
 * `since` is not known).
 */
export function gapLowerBound(window: Window): number | undefined {
  if (window.since !== undefined || window.until !== undefined) return undefined;
  return window.fromSeq ?? 1;
}

export interface SeqSample {
  readonly count: number;
  /** The first few seqs concerned. */
  readonly seqs: number[];
}

export interface SourceReport {
  readonly source: string;
  readonly counts: Record<SinkName, number> & { readonly mongoDocuments: number };
  readonly firstSeq: number | undefined;
  readonly lastSeq: number | undefined;
  /** undefined when missing records are not judged (the sinks chosen cannot tell). */
  readonly gaps: GapReport | undefined;
  readonly onlyInPostgres: SeqSample;
  readonly onlyInMongo: SeqSample;
  /** Extra copies of a seq within one sink (a seq stored three times counts 2). */
  readonly duplicated: Record<SinkName, SeqSample>;
  readonly nesting: NestingResult | undefined;
  readonly invalid: Record<SinkName, number> & { readonly examples: string[] };
  /** The same seq with different content in two sinks. */
  readonly conflicting: SeqSample;
  /** Information: records in the file sink and in a database (a routing rule may send to both). */
  readonly inFileAndDatabase: number;
  readonly findings: number;
}

const SAMPLE = 20;

/** Collects one source's records from every sink (in any order), then reconciles them. */
export class SourceCheck {
  private readonly lists: Record<SinkName, SeqList> = {
    file: new SeqList(),
    postgres: new SeqList(),
    mongo: new SeqList(),
  };
  private readonly nesting = new NestingCheck();
  private readonly invalid = { file: 0, postgres: 0, mongo: 0, examples: [] as string[] };

  constructor(
    readonly source: string,
    private readonly window: Window,
  ) {}

  /** A record of a sink (already known to be in the window, except for whole MongoDB documents). */
  add(sink: SinkName, record: DataRecord): void {
    this.lists[sink].push(record.seq, fingerprint(record.timestamp, record.randomValue, record.hashValue));
  }

  /** A record that is not valid (still counted as present at its seq when it has one). */
  addInvalid(sink: SinkName, where: string, problem: string, record?: Partial<DataRecord>): void {
    this.invalid[sink]++;
    if (this.invalid.examples.length < 10) this.invalid.examples.push(`${sink} ${where}: ${problem}`);
    if (record !== undefined && typeof record.seq === 'number' && Number.isSafeInteger(record.seq)) {
      const print = fingerprint(
        Number(record.timestamp ?? 0),
        Number(record.randomValue ?? 0),
        String(record.hashValue),
      );
      this.lists[sink].push(record.seq, print);
    }
  }

  /**
   * A whole MongoDB document. It goes to the nesting check whole (documents at the window's
   * edges are read whole); only its records inside the window count for the other checks.
   */
  addDocument(head: DataRecord, nested: readonly DataRecord[]): void {
    this.nesting.addDocument(head, nested);
    for (const record of [head, ...nested]) if (inWindow(this.window, record)) this.add('mongo', record);
  }

  finish(sinks: ReadonlySet<SinkName>, blockSize: number = SEQ_BLOCK_SIZE): SourceReport {
    const file = this.lists.file.ordered();
    const postgres = this.lists.postgres.ordered();
    const mongo = this.lists.mongo.ordered();

    const duplicated = {
      file: repeats(file.seqs),
      postgres: repeats(postgres.seqs),
      mongo: repeats(mongo.seqs),
    };

    // One merge over the three ascending lists: union, one-sided records, overlaps, conflicts.
    const union = new SeqList();
    const onlyInPostgres = sample();
    const onlyInMongo = sample();
    const conflicting = sample();
    let inFileAndDatabase = 0;
    const compareQueues = sinks.has('postgres') && sinks.has('mongo');
    let f = 0;
    let p = 0;
    let m = 0;
    while (f < file.seqs.length || p < postgres.seqs.length || m < mongo.seqs.length) {
      const seq = Math.min(
        file.seqs[f] ?? Number.POSITIVE_INFINITY,
        postgres.seqs[p] ?? Number.POSITIVE_INFINITY,
        mongo.seqs[m] ?? Number.POSITIVE_INFINITY,
      );
      const prints: number[] = [];
      const inFile = file.seqs[f] === seq;
      const inPostgres = postgres.seqs[p] === seq;
      const inMongo = mongo.seqs[m] === seq;
      if (inFile) prints.push(file.prints[f] as number);
      if (inPostgres) prints.push(postgres.prints[p] as number);
      if (inMongo) prints.push(mongo.prints[m] as number);
      while (file.seqs[f] === seq) f++;
      while (postgres.seqs[p] === seq) p++;
      while (mongo.seqs[m] === seq) m++;

      union.push(seq, 0);
      if (compareQueues && inPostgres && !inMongo) note(onlyInPostgres, seq);
      if (compareQueues && inMongo && !inPostgres) note(onlyInMongo, seq);
      if (inFile && (inPostgres || inMongo)) inFileAndDatabase++;
      if (prints.some((print) => print !== prints[0])) note(conflicting, seq);
    }

    const present = union.ordered().seqs;
    // Missing records can only be judged with the file sink and a database: each route ends in one.
    const judgeGaps = sinks.has('file') && (sinks.has('postgres') || sinks.has('mongo'));
    const gaps = judgeGaps ? findGaps(present, gapLowerBound(this.window), blockSize) : undefined;
    const nesting = sinks.has('mongo') ? this.nesting.result() : undefined;

    const invalidTotal = this.invalid.file + this.invalid.postgres + this.invalid.mongo;
    const findings =
      (gaps?.missingCount ?? 0) +
      onlyInPostgres.count +
      onlyInMongo.count +
      duplicated.file.count +
      duplicated.postgres.count +
      duplicated.mongo.count +
      (nesting?.misnested ?? 0) +
      invalidTotal +
      conflicting.count;

    return {
      source: this.source,
      counts: {
        file: file.seqs.length,
        postgres: postgres.seqs.length,
        mongo: mongo.seqs.length,
        mongoDocuments: nesting?.documents ?? 0,
      },
      firstSeq: present.length > 0 ? present[0] : undefined,
      lastSeq: present.length > 0 ? present[present.length - 1] : undefined,
      gaps,
      onlyInPostgres,
      onlyInMongo,
      duplicated,
      nesting,
      invalid: { ...this.invalid },
      conflicting,
      inFileAndDatabase,
      findings,
    };
  }
}

function sample(): { count: number; seqs: number[] } {
  return { count: 0, seqs: [] };
}

function note(target: { count: number; seqs: number[] }, seq: number): void {
  target.count++;
  if (target.seqs.length < SAMPLE) target.seqs.push(seq);
}

/** Extra copies of seqs in an ascending list. */
function repeats(seqs: Float64Array): SeqSample {
  const result = sample();
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[i - 1]) continue;
    result.count++;
    if (result.seqs.length < SAMPLE && result.seqs[result.seqs.length - 1] !== seqs[i])
      result.seqs.push(seqs[i] as number);
  }
  return result;
}
