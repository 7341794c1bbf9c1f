import { existsSync } from 'node:fs';
import type { MongoClient } from 'mongodb';
import type { Client } from 'pg';
import { SOURCE_PATTERN } from '@dataflow/contracts';
import { CliError, EXIT_FINDINGS, EXIT_OK } from '../lib/errors';
import { openMongo, openPostgres } from '../lib/connections';
import { formatCount, note, out, printJson, progress, table } from '../lib/output';
import { formatRanges } from './gaps';
import { FileSinkStats, scanFileSink, scanMongo, scanPostgres } from './readers';
import { SINK_NAMES, SinkName, SourceCheck, SourceReport, Window } from './source-check';

export interface VerifyOptions {
  readonly source?: string;
  readonly window: Window;
  readonly sinks: ReadonlySet<SinkName>;
  readonly fileDir: string;
  readonly fileDirExplicit: boolean;
  readonly databaseUrl: string;
  readonly mongodbUrl: string;
  readonly json: boolean;
}

export interface VerifyReport {
  readonly window: Window;
  readonly sinks: SinkName[];
  readonly fileDir: string | undefined;
  readonly sources: SourceReport[];
  readonly fileSink: FileSinkStats | undefined;
  readonly totals: {
    readonly sources: number;
    readonly records: Record<SinkName, number>;
    readonly missing: number;
    readonly skipped: number;
    readonly onlyInPostgres: number;
    readonly onlyInMongo: number;
    readonly duplicated: number;
    readonly misnested: number;
    readonly invalid: number;
    readonly conflicting: number;
    readonly inFileAndDatabase: number;
    readonly fileSinkProblems: number;
    readonly findings: number;
  };
}

export function parseSinks(text: string): Set<SinkName> {
  const sinks = new Set<SinkName>();
  for (const part of text.split(',').map((s) => s.trim())) {
    if (part.length === 0) continue;
    if (!(SINK_NAMES as readonly string[]).includes(part)) {
      throw new CliError(`unknown sink "${part}" in --sinks (use file, postgres, mongo)`);
    }
    sinks.add(part as SinkName);
  }
  if (sinks.size === 0) throw new CliError('--sinks names no sink');
  return sinks;
}

/** An instant as ISO 8601 or as milliseconds since the epoch. */
export function parseInstant(text: string, flag: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(value)) throw new CliError(`${flag}: not an ISO 8601 time or epoch milliseconds: "${text}"`);
  return value;
}

export function parseSeq(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < 1) {
    throw new CliError(`${flag}: expected a seq (integer >= 1), got "${text}"`);
  }
  return Number(text);
}

export async function verify(options: VerifyOptions): Promise<number> {
  const { window, sinks, source } = options;
  if (source !== undefined && !SOURCE_PATTERN.test(source))
    throw new CliError(`--source: not a valid source name: "${source}"`);
  if (window.fromSeq !== undefined && window.toSeq !== undefined && window.fromSeq > window.toSeq) {
    throw new CliError('--from-seq is after --to-seq');
  }
  if (window.since !== undefined && window.until !== undefined && window.since >= window.until) {
    throw new CliError('--since is not before --until');
  }
  if (sinks.has('file') && !existsSync(options.fileDir)) {
    if (options.fileDirExplicit) throw new CliError(`file sink directory ${options.fileDir} does not exist`);
    note(`note: file sink directory ${options.fileDir} does not exist; the file sink counts as empty`);
  }

  const checks = new Map<string, SourceCheck>();
  const checkOf = (name: string): SourceCheck => {
    let check = checks.get(name);
    if (check === undefined) {
      check = new SourceCheck(name, window);
      checks.set(name, check);
    }
    return check;
  };
  const wants = (name: string): boolean => source === undefined || name === source;
  const bar = progress(!options.json);

  // Connect first, so a refused connection fails before minutes of file scanning.
  let postgres: Client | undefined;
  let mongo: MongoClient | undefined;
  try {
    if (sinks.has('postgres')) postgres = await openPostgres(options.databaseUrl);
    if (sinks.has('mongo')) mongo = await openMongo(options.mongodbUrl);

    let fileSink: FileSinkStats | undefined;
    if (sinks.has('file')) {
      fileSink = await scanFileSink(
        options.fileDir,
        window,
        {
          wants,
          record: (name, record) => checkOf(name).add('file', record),
          invalid: (name, where, problem, partial) => checkOf(name).addInvalid('file', where, problem, partial),
        },
        source,
        bar,
      );
    }
    if (postgres !== undefined) {
      await scanPostgres(
        postgres,
        window,
        source,
        {
          wants,
          record: (name, record) => checkOf(name).add('postgres', record),
          invalid: (name, where, problem, partial) => checkOf(name).addInvalid('postgres', where, problem, partial),
        },
        bar,
      );
    }
    if (mongo !== undefined) {
      await scanMongo(
        mongo,
        window,
        source,
        {
          wants,
          document: (name, head, nested) => checkOf(name).addDocument(head, nested),
          invalid: (name, where, problem, partial) => checkOf(name).addInvalid('mongo', where, problem, partial),
        },
        bar,
      );
    }

    if (source !== undefined) checkOf(source);
    const sources = [...checks.keys()].sort().map((name) => (checks.get(name) as SourceCheck).finish(sinks));
    const report = summarise(options, sources, fileSink);
    if (options.json) printJson(report);
    else printReport(report);
    return report.totals.findings > 0 ? EXIT_FINDINGS : EXIT_OK;
  } finally {
    bar.stop();
    await postgres?.end().catch(() => undefined);
    await mongo?.close().catch(() => undefined);
  }
}

export function summarise(
  options: Pick<VerifyOptions, 'window' | 'sinks' | 'fileDir'>,
  sources: SourceReport[],
  fileSink: FileSinkStats | undefined,
): VerifyReport {
  const sum = (pick: (s: SourceReport) => number): number => sources.reduce((total, s) => total + pick(s), 0);
  const fileSinkProblems = (fileSink?.tornLines ?? 0) + (fileSink?.unattributed ?? 0);
  return {
    window: options.window,
    sinks: SINK_NAMES.filter((s) => options.sinks.has(s)),
    fileDir: options.sinks.has('file') ? options.fileDir : undefined,
    sources,
    fileSink,
    totals: {
      sources: sources.length,
      records: {
        file: sum((s) => s.counts.file),
        postgres: sum((s) => s.counts.postgres),
        mongo: sum((s) => s.counts.mongo),
      },
      missing: sum((s) => s.gaps?.missingCount ?? 0),
      skipped: sum((s) => s.gaps?.skippedCount ?? 0),
      onlyInPostgres: sum((s) => s.onlyInPostgres.count),
      onlyInMongo: sum((s) => s.onlyInMongo.count),
      duplicated: sum((s) => s.duplicated.file.count + s.duplicated.postgres.count + s.duplicated.mongo.count),
      misnested: sum((s) => s.nesting?.misnested ?? 0),
      invalid: sum((s) => s.invalid.file + s.invalid.postgres + s.invalid.mongo),
      conflicting: sum((s) => s.conflicting.count),
      inFileAndDatabase: sum((s) => s.inFileAndDatabase),
      fileSinkProblems,
      findings: sum((s) => s.findings) + fileSinkProblems,
    },
  };
}

function windowText(window: Window): string {
  const parts: string[] = [];
  if (window.fromSeq !== undefined || window.toSeq !== undefined) {
    parts.push(`seq ${window.fromSeq ?? 1}..${window.toSeq ?? 'end'}`);
  }
  if (window.since !== undefined || window.until !== undefined) {
    parts.push(
      `time ${window.since !== undefined ? new Date(window.since).toISOString() : 'start'} .. ` +
        `${window.until !== undefined ? new Date(window.until).toISOString() : 'now'}`,
    );
  }
  return parts.length > 0 ? parts.join(', ') : 'everything';
}

function printReport(report: VerifyReport): void {
  const { totals } = report;
  const has = (sink: SinkName): boolean => report.sinks.includes(sink);
  const n = (value: number | undefined, shown = true): string =>
    shown && value !== undefined ? formatCount(value) : '-';
  out(
    `verify: ${windowText(report.window)}; sinks ${report.sinks.join(', ')}` +
      (report.fileDir !== undefined ? `; file sink ${report.fileDir}` : ''),
  );
  const judged = report.sources.some((s) => s.gaps !== undefined);
  const header = [
    'source',
    'file',
    'postgres',
    'mongo',
    'seqs',
    'missing',
    'skipped',
    'pg-only',
    'mongo-only',
    'dup',
    'misnested',
    'invalid',
    'conflict',
    'file+db',
  ];
  const rows: string[][] = [header];
  for (const s of report.sources) {
    rows.push([
      s.source,
      n(s.counts.file, has('file')),
      n(s.counts.postgres, has('postgres')),
      n(s.counts.mongo, has('mongo')),
      s.firstSeq === undefined ? '-' : `${s.firstSeq}..${s.lastSeq ?? ''}`,
      n(s.gaps?.missingCount),
      n(s.gaps?.skippedCount),
      n(s.onlyInPostgres.count, has('postgres') && has('mongo')),
      n(s.onlyInMongo.count, has('postgres') && has('mongo')),
      n(s.duplicated.file.count + s.duplicated.postgres.count + s.duplicated.mongo.count),
      n(s.nesting?.misnested),
      n(s.invalid.file + s.invalid.postgres + s.invalid.mongo),
      n(s.conflicting.count),
      n(s.inFileAndDatabase),
    ]);
  }
  if (report.sources.length > 1 || report.sources.length === 0) {
    rows.push([
      `TOTAL (${report.sources.length} sources)`,
      n(totals.records.file, has('file')),
      n(totals.records.postgres, has('postgres')),
      n(totals.records.mongo, has('mongo')),
      '',
      n(totals.missing, judged),
      n(totals.skipped, judged),
      n(totals.onlyInPostgres, has('postgres') && has('mongo')),
      n(totals.onlyInMongo, has('postgres') && has('mongo')),
      n(totals.duplicated),
      n(totals.misnested, has('mongo')),
      n(totals.invalid),
      n(totals.conflicting),
      n(totals.inFileAndDatabase),
    ]);
  }
  out(table(rows));

  const findings: string[] = [];
  const info: string[] = [];
  for (const s of report.sources) {
    const p = `${s.source}:`;
    if (s.gaps && s.gaps.missingCount > 0) {
      findings.push(
        `${p} missing ${formatCount(s.gaps.missingCount)} seqs: ${formatRanges(s.gaps.missing, s.gaps.missingRanges)}`,
      );
    }
    if (s.gaps && s.gaps.skippedCount > 0) {
      info.push(
        `${p} ${formatCount(s.gaps.skippedCount)} seqs skipped by generator restarts (block ends): ` +
          formatRanges(s.gaps.skipped, s.gaps.skippedRanges),
      );
    }
    const seqs = (sample: { count: number; seqs: number[] }): string =>
      `${sample.seqs.join(', ')}${sample.count > sample.seqs.length ? ', ...' : ''}`;
    if (s.onlyInPostgres.count > 0)
      findings.push(`${p} ${s.onlyInPostgres.count} in PostgreSQL but not MongoDB: ${seqs(s.onlyInPostgres)}`);
    if (s.onlyInMongo.count > 0)
      findings.push(`${p} ${s.onlyInMongo.count} in MongoDB but not PostgreSQL: ${seqs(s.onlyInMongo)}`);
    for (const sink of SINK_NAMES) {
      const d = s.duplicated[sink];
      if (d.count > 0) findings.push(`${p} ${d.count} duplicate${d.count === 1 ? '' : 's'} in ${sink}: seq ${seqs(d)}`);
    }
    if (s.nesting && s.nesting.misnested > 0) {
      findings.push(
        `${p} ${s.nesting.misnested} misnested documents (${s.nesting.unexpected} stored not by the rule, ` +
          `${s.nesting.missing} of the rule not stored); stored: [${s.nesting.unexpectedExamples.join('] [')}]` +
          ` expected: [${s.nesting.missingExamples.join('] [')}]`,
      );
    }
    const invalid = s.invalid.file + s.invalid.postgres + s.invalid.mongo;
    if (invalid > 0) findings.push(`${p} ${invalid} invalid records: ${s.invalid.examples.join('; ')}`);
    if (s.conflicting.count > 0)
      findings.push(`${p} ${s.conflicting.count} seqs stored with different content: ${seqs(s.conflicting)}`);
    if (s.inFileAndDatabase > 0)
      info.push(`${p} ${formatCount(s.inFileAndDatabase)} records both in the file sink and a database`);
  }
  const files = report.fileSink;
  if (files && files.tornLines + files.unattributed > 0) {
    findings.push(
      `file sink: ${files.tornLines} torn or non-JSON lines, ${files.unattributed} invalid lines without a source: ` +
        files.examples.join('; '),
    );
  }
  if (files && files.incompleteLastLines > 0) {
    info.push(
      `file sink: ${files.incompleteLastLines} files end in a partial line written in the last seconds (in progress)`,
    );
  }
  if (!judged && report.sources.length > 0) info.push('missing records not judged: needs the file sink and a database');
  if (findings.length > 0) {
    out('');
    out('findings:');
    for (const line of findings) out(`  ${line}`);
  }
  if (info.length > 0) {
    out('');
    out('info:');
    for (const line of info) out(`  ${line}`);
  }
  out('');
  out(
    totals.findings > 0
      ? `FINDINGS: ${formatCount(totals.findings)} (exit 1)`
      : `OK: no findings in ${formatCount(totals.sources)} source${totals.sources === 1 ? '' : 's'}`,
  );
}
