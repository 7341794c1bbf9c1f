import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { deleteSourceAt } from '../kit/stores';
import { errorText } from '../kit/tool';

/**
 * The store side of deploy/container-check.sh, run on the host against the same services as the
 * containers (RABBITMQ_URL, DATABASE_URL, MONGODB_URL from the environment):
 *
 *   stores.ts wait <source> <file-dir> <expected> <timeout-seconds>
 *       reconciles the file sink, PostgreSQL and MongoDB for <source> with the operator CLI's
 *       `verify` until every one of the <expected> records is stored (or the timeout passes), then
 *       prints one JSON line with the counts and exits 0 only if each record is in its sinks once
 *   stores.ts cleanup <source>
 *       deletes the source's rows, documents and nesting tail
 */
interface SourceReport {
  readonly counts: { file: number; postgres: number; mongo: number; mongoDocuments: number };
  readonly firstSeq?: number;
  readonly lastSeq?: number;
  readonly inFileAndDatabase: number;
  readonly findings: number;
}

interface Outcome extends Omit<SourceReport, 'counts'> {
  readonly file: number;
  readonly postgres: number;
  readonly mongo: number;
  readonly mongoDocuments: number;
  readonly problems: string[];
}

const CLI = join(__dirname, '..', '..', 'cli', 'bin', 'dataflow.js');

function verify(source: string, fileDir: string): SourceReport {
  const run = spawnSync(process.execPath, [CLI, 'verify', '--source', source, '--file-dir', fileDir, '--json'], {
    encoding: 'utf8',
  });
  // Exit 1 means findings, still with the full report; anything else is a failure to check.
  if (run.status !== 0 && run.status !== 1) throw new Error(`verify failed: ${run.stderr.trim()}`);
  const report = JSON.parse(run.stdout) as { sources: SourceReport[] };
  const found = report.sources[0];
  if (!found) throw new Error(`verify reported no source ${source}`);
  return found;
}

/** Every way the stores can differ from "each of 1..expected once, in its route's sinks". */
function judge(report: SourceReport, expected: number): Outcome {
  const { file, postgres, mongo, mongoDocuments } = report.counts;
  const problems: string[] = [];
  if (report.findings > 0) problems.push(`verify: ${report.findings} findings`);
  // The default rule set sends each record to exactly one route: the file, or the queue (both DBs).
  if (file + postgres !== expected) problems.push(`file + postgres = ${file + postgres}, expected ${expected}`);
  if (mongo !== postgres) problems.push(`mongo ${mongo} != postgres ${postgres}`);
  if (report.inFileAndDatabase > 0) problems.push(`${report.inFileAndDatabase} records in a file and a database`);
  if (report.firstSeq !== 1 || report.lastSeq !== expected) {
    problems.push(`seqs ${report.firstSeq ?? '-'}..${report.lastSeq ?? '-'}, expected 1..${expected}`);
  }
  const { counts: _counts, ...rest } = report;
  return { ...rest, file, postgres, mongo, mongoDocuments, problems };
}

async function wait(source: string, fileDir: string, expected: number, timeoutSeconds: number): Promise<number> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const outcome = judge(verify(source, fileDir), expected);
    if (outcome.problems.length === 0 || Date.now() >= deadline) {
      process.stdout.write(`${JSON.stringify(outcome)}\n`);
      return outcome.problems.length === 0 ? 0 : 1;
    }
    process.stderr.write(`[container-check] stored so far: ${outcome.problems.join('; ')}\n`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function main([command, source, ...args]: string[]): Promise<number> {
  if (command === 'wait' && source && args.length === 3) {
    const [fileDir, expected, timeout] = args as [string, string, string];
    return wait(source, fileDir, Number(expected), Number(timeout));
  }
  if (command === 'cleanup' && source && args.length === 0) {
    await deleteSourceAt(
      process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/dataflow',
      process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017/dataflow',
      source,
    );
    return 0;
  }
  process.stderr.write('usage: stores.ts wait <source> <file-dir> <expected> <timeout-s> | cleanup <source>\n');
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`[container-check] ${errorText(error)}\n`);
    process.exit(2);
  },
);
