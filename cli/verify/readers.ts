import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { MongoClient } from 'mongodb';
import type { Client } from 'pg';
import { DataRecord, isSinkFileName, validateRecord } from '@dataflow/contracts';
import { CliError, describeError } from '../lib/errors';
import type { Progress } from '../lib/output';
import { inWindow, Window } from './source-check';

export interface RecordVisitor {
  /** Whether records of this source are wanted (the --source filter). */
  wants(source: string): boolean;
  record(source: string, record: DataRecord): void;
  invalid(source: string, where: string, problem: string, partial: Partial<DataRecord>): void;
}

// ------------------------------------------------------------------ file sink

export interface FileSinkStats {
  files: number;
  /** Files skipped because their hour lies outside the time window. */
  filesOutsideWindow: number;
  lines: number;
  /** Lines that are not JSON (torn or garbage), and last lines without a newline: findings. */
  tornLines: number;
  /** A last line without its newline in a file written within the last seconds: probably being written. */
  incompleteLastLines: number;
  /** JSON lines that are no valid record and name no usable source: findings. */
  unattributed: number;
  examples: string[];
}

/** A last line without newline in a file modified this recently is taken as being written. */
const IN_PROGRESS_MS = 10_000;
const HOUR_MS = 3_600_000;

/** Sink files in name (= time) order (partitioned: each partition directory's in turn), with the start of their hour. */
export function sinkFiles(dir: string): { name: string; hourStart: number; bytes: number; modifiedMs: number }[] {
  const entries = readdirSync(dir);
  // Partitioned (RECORD_PARTITIONS > 1), the hour files are in one directory per partition, `<p>/`.
  const partitions = entries
    .filter((name) => /^\d+$/.test(name) && statSync(join(dir, name)).isDirectory())
    .sort((a, b) => Number(a) - Number(b));
  const names = [
    ...entries.filter(isSinkFileName).sort(),
    ...partitions.flatMap((partition) =>
      readdirSync(join(dir, partition))
        .filter(isSinkFileName)
        .sort()
        .map((name) => `${partition}/${name}`),
    ),
  ];
  return names.map((name) => {
    const stat = statSync(join(dir, name));
    const hour = basename(name).slice('records-'.length, 'records-'.length + 13);
    return { name, hourStart: Date.parse(`${hour}:00:00.000Z`), bytes: stat.size, modifiedMs: stat.mtimeMs };
  });
}

/**
 * Reads every record line of the file sink directory, streaming (a few MB of memory whatever the
 * size). Hour files outside the time window are skipped by name.
 */
export async function scanFileSink(
  dir: string,
  window: Window,
  visitor: RecordVisitor,
  sourceHint: string | undefined,
  progress: Progress,
): Promise<FileSinkStats> {
  const stats: FileSinkStats = {
    files: 0,
    filesOutsideWindow: 0,
    lines: 0,
    tornLines: 0,
    incompleteLastLines: 0,
    unattributed: 0,
    examples: [],
  };
  if (!existsSync(dir)) return stats;
  const files = sinkFiles(dir).filter((file) => {
    const outside =
      (window.since !== undefined && file.hourStart + HOUR_MS <= window.since) ||
      (window.until !== undefined && file.hourStart >= window.until);
    if (outside) stats.filesOutsideWindow++;
    return !outside;
  });
  progress.start(
    files.reduce((sum, f) => sum + f.bytes, 0),
    'file sink (bytes)',
  );
  const problem = (text: string): void => {
    if (stats.examples.length < 10) stats.examples.push(text);
  };
  for (const file of files) {
    stats.files++;
    let lineNumber = 0;
    const onLine = (line: string): void => {
      lineNumber++;
      stats.lines++;
      const where = `${file.name}:${lineNumber}`;
      // Cheap pre-filter for one source: a complete line of another source is skipped unparsed.
      if (sourceHint !== undefined && !line.includes(sourceHint) && line.startsWith('{') && line.endsWith('}')) return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        stats.tornLines++;
        problem(`${where}: not a complete JSON line (${line.length} characters)`);
        return;
      }
      const validation = validateRecord(value);
      if (validation.ok) {
        const { record } = validation;
        if (visitor.wants(record.source) && inWindow(window, record)) visitor.record(record.source, record);
        return;
      }
      if (validation.source !== undefined) {
        const partial = value as Partial<DataRecord>;
        const outside =
          typeof partial.seq === 'number' &&
          typeof partial.timestamp === 'number' &&
          !inWindow(window, { seq: partial.seq, timestamp: partial.timestamp });
        if (visitor.wants(validation.source) && !outside) {
          visitor.invalid(validation.source, where, validation.message, value as Partial<DataRecord>);
        }
        return;
      }
      stats.unattributed++;
      problem(`${where}: ${validation.message}`);
    };

    const decoder = new StringDecoder('utf8');
    let rest = '';
    for await (const chunk of createReadStream(join(dir, file.name), { highWaterMark: 1 << 20 })) {
      const buffer = chunk as Buffer;
      progress.increment(buffer.length);
      const text = rest + decoder.write(buffer);
      let start = 0;
      for (let end = text.indexOf('\n', start); end !== -1; end = text.indexOf('\n', start)) {
        onLine(text.slice(start, end));
        start = end + 1;
      }
      rest = text.slice(start);
    }
    rest += decoder.end();
    if (rest.length > 0) {
      if (Date.now() - file.modifiedMs < IN_PROGRESS_MS) {
        stats.incompleteLastLines++;
      } else {
        stats.tornLines++;
        problem(`${file.name}:${lineNumber + 1}: last line has no newline (torn, ${rest.length} characters)`);
      }
    }
  }
  progress.stop();
  return stats;
}

// ------------------------------------------------------------------ PostgreSQL

function postgresWhere(window: Window, source: string | undefined): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown): void => {
    params.push(value);
    clauses.push(clause.replace('?', `$${params.length}`));
  };
  if (source !== undefined) add('source = ?', source);
  if (window.fromSeq !== undefined) add('seq >= ?', window.fromSeq);
  if (window.toSeq !== undefined) add('seq <= ?', window.toSeq);
  if (window.since !== undefined) add('"timestamp" >= ?', window.since);
  if (window.until !== undefined) add('"timestamp" < ?', window.until);
  return { sql: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

interface Row {
  source: string;
  seq: string;
  timestamp: string;
  random_value: number;
  hash_value: string;
}

/**
 * Streams the rows of the window ordered by (source, seq) through a server-side cursor in one
 * read-only snapshot, a batch at a time.
 */
export async function scanPostgres(
  client: Client,
  window: Window,
  source: string | undefined,
  visitor: RecordVisitor,
  progress: Progress,
  batch = 10_000,
): Promise<number> {
  const { sql, params } = postgresWhere(window, source);
  let rows = 0;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const count = await client.query<{ n: string }>(`SELECT count(*) AS n FROM data_records ${sql}`, params);
    progress.start(Number(count.rows[0]?.n ?? 0), 'postgres (rows)');
    await client.query(
      `DECLARE verify_rows NO SCROLL CURSOR FOR SELECT source, seq, "timestamp", random_value, hash_value ` +
        `FROM data_records ${sql} ORDER BY source, seq`,
      params,
    );
    for (;;) {
      const result = await client.query<Row>(`FETCH ${batch} FROM verify_rows`);
      for (const row of result.rows) {
        if (!visitor.wants(row.source)) continue;
        const value = {
          source: row.source,
          seq: Number(row.seq),
          timestamp: Number(row.timestamp),
          randomValue: row.random_value,
          hashValue: row.hash_value,
        };
        const validation = validateRecord(value);
        if (validation.ok) visitor.record(row.source, validation.record);
        else visitor.invalid(row.source, `row ${row.source}:${row.seq}`, validation.message, value);
      }
      rows += result.rows.length;
      progress.increment(result.rows.length);
      if (result.rows.length < batch) break;
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    const code = (error as { code?: unknown }).code;
    if (code === '42P01') throw new CliError('PostgreSQL has no table data_records (db-writer runs the migrations)');
    throw new CliError(`reading PostgreSQL failed: ${describeError(error)}`);
  } finally {
    progress.stop();
  }
  return rows;
}

// ------------------------------------------------------------------ MongoDB

type Condition = Record<string, unknown>;

function recordCondition(window: Window): Condition {
  const condition: Condition = {};
  const seq: Condition = {};
  if (window.fromSeq !== undefined) seq.$gte = window.fromSeq;
  if (window.toSeq !== undefined) seq.$lte = window.toSeq;
  if (Object.keys(seq).length > 0) condition.seq = seq;
  const timestamp: Condition = {};
  if (window.since !== undefined) timestamp.$gte = window.since;
  if (window.until !== undefined) timestamp.$lt = window.until;
  if (Object.keys(timestamp).length > 0) condition.timestamp = timestamp;
  return condition;
}

/**
 * The documents holding at least one record of the window: by head, or by a nested record (the
 * document that holds an edge record is read whole). Nested conditions use dotted paths rather
 * than `$elemMatch`, which FerretDB does not evaluate on fields; each bound may then be met by a
 * different nested record, so a document straddling the window is read too, which only adds
 * records outside the window to the nesting check.
 */
export function mongoFilter(window: Window, source: string | undefined): Condition {
  const filter: Condition = source !== undefined ? { source } : {};
  const record = recordCondition(window);
  if (Object.keys(record).length === 0) return filter;
  const nested = Object.fromEntries(
    Object.entries(record).map(([field, bounds]) => [`nestedRecords.${field}`, bounds]),
  );
  return { ...filter, $or: [record, nested] };
}

interface StoredDocument {
  source?: unknown;
  seq?: unknown;
  timestamp?: unknown;
  randomValue?: unknown;
  hashValue?: unknown;
  nestedRecords?: unknown;
}

export interface DocumentVisitor {
  wants(source: string): boolean;
  document(source: string, head: DataRecord, nested: DataRecord[]): void;
  invalid(source: string, where: string, problem: string, partial: Partial<DataRecord>): void;
}

function asRecord(value: unknown): Partial<DataRecord> {
  if (value === null || typeof value !== 'object') return {};
  const { source, seq, timestamp, randomValue, hashValue } = value as StoredDocument;
  return { source, seq, timestamp, randomValue, hashValue } as Partial<DataRecord>;
}

export async function scanMongo(
  client: MongoClient,
  window: Window,
  source: string | undefined,
  visitor: DocumentVisitor,
  progress: Progress,
): Promise<number> {
  const filter = mongoFilter(window, source);
  const collection = client.db().collection<StoredDocument>('data_records');
  let documents = 0;
  try {
    progress.start(await collection.countDocuments(filter), 'mongo (documents)');
    let cursor = collection.find(filter, { projection: { _id: 0 } }).batchSize(2000);
    // With one source the (source, seq) index gives the order for free; otherwise order is not needed.
    if (source !== undefined) cursor = cursor.sort({ seq: 1 });
    for await (const document of cursor) {
      documents++;
      progress.increment();
      const headValue = asRecord(document);
      const owner = typeof document.source === 'string' ? document.source : '(no source)';
      if (!visitor.wants(owner)) continue;
      const where = `document ${owner}:${String(document.seq)}`;
      const head = validateRecord(headValue);
      const nestedValues = Array.isArray(document.nestedRecords) ? (document.nestedRecords as unknown[]) : undefined;
      if (nestedValues === undefined) visitor.invalid(owner, where, 'nestedRecords is not an array', headValue);
      const nested: DataRecord[] = [];
      for (const value of nestedValues ?? []) {
        const check = validateRecord(value);
        if (check.ok && check.record.source === owner) nested.push(check.record);
        else
          visitor.invalid(
            owner,
            `${where} nested ${String(asRecord(value).seq)}`,
            check.ok ? `nested record of source ${check.record.source}` : check.message,
            asRecord(value),
          );
      }
      if (head.ok) visitor.document(owner, head.record, nested);
      else visitor.invalid(owner, where, head.message, headValue);
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`reading MongoDB failed: ${describeError(error)}`);
  } finally {
    progress.stop();
  }
  return documents;
}
