import { Logger } from '@nestjs/common';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { DataRecord } from '@dataflow/contracts';

/**
 * When each record was committed, for exact end-to-end latencies (`<PREFIX>_COMMIT_LOG`, a file
 * path; off when unset). One line per run of consecutive seqs of one source in a committed write:
 * `<epoch ms> <source> <first seq> <last seq>`. Joined with the records' own timestamps (in the
 * store) it gives every record's latency from generation to commit, where the
 * `dataflow_end_to_end_latency_seconds` histogram only gives buckets; `npm run bench` reads it.
 * A batch is a few lines, written through a buffered stream; a failing file is reported once and
 * the log stops, never the writer.
 */
export class CommitLog {
  private readonly logger = new Logger('CommitLog');
  private readonly stream: WriteStream;
  private broken = false;

  constructor(path: string) {
    this.stream = createWriteStream(path, { flags: 'a' });
    this.stream.on('error', (error) => {
      if (!this.broken) this.logger.warn(`commit log ${path} stopped: ${error.message}`);
      this.broken = true;
    });
  }

  /** `records` were committed at `at` (epoch ms). */
  committed(records: readonly DataRecord[], at = Date.now()): void {
    if (this.broken || records.length === 0) return;
    this.stream.write(commitLines(records, at));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

/** The commit log's lines for one write (see CommitLog). */
export function commitLines(records: readonly DataRecord[], at: number): string {
  let lines = '';
  let first = records[0];
  for (let i = 1; i <= records.length; i++) {
    const previous = records[i - 1] as DataRecord;
    const next = records[i];
    if (next && next.source === previous.source && next.seq === previous.seq + 1) continue;
    if (first) lines += `${at} ${first.source} ${first.seq} ${previous.seq}\n`;
    first = next;
  }
  return lines;
}
