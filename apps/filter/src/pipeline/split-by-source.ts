import type { DataRecord } from '@dataflow/contracts';
import type { RecordSender } from './record-sender';
import type { RecordRouter } from '../routing/record-router';
import type { FrameContext } from './frame-context';
import type { SourcePart } from './source-pipeline';

/**
 * Groups a frame's records by source, each group ascending by `seq` and without repeats, and
 * routes every record with `router` (one rule set for the whole frame).
 */
export function splitBySource(
  connection: RecordSender,
  records: readonly DataRecord[],
  router: RecordRouter,
  frame: FrameContext,
): Map<string, SourcePart> {
  const groups = new Map<string, DataRecord[]>();
  for (const record of records) {
    const group = groups.get(record.source);
    if (group) group.push(record);
    else groups.set(record.source, [record]);
  }
  const parts = new Map<string, SourcePart>();
  for (const [source, group] of groups) {
    const ackSeqs = group.map((r) => r.seq);
    const sorted = isAscending(group) ? group : [...group].sort((a, b) => a.seq - b.seq);
    const unique = sorted.filter((record, i) => i === 0 || record.seq !== (sorted[i - 1] as DataRecord).seq);
    const decisions = unique.map((record) => router.route(record));
    parts.set(source, { connection, records: unique, decisions, ackSeqs, frames: [frame] });
  }
  return parts;
}

function isAscending(records: readonly DataRecord[]): boolean {
  for (let i = 1; i < records.length; i++) {
    if ((records[i] as DataRecord).seq <= (records[i - 1] as DataRecord).seq) return false;
  }
  return true;
}
