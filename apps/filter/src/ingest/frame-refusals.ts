import type { ErrorPayload, RecordRejection, RefusedRecords } from '@dataflow/contracts';

/**
 * The refused records of one frame, answered by one error frame (CONTRACT.md §4 shape): `code`,
 * `message`, `source` and `seq` of the first refused record, `count` of all refused records, and
 * `refused` listing every refused record whose source and seq are known, grouped by code and
 * source. One answer per frame bounds what a frame of 1000 bad records costs to answer, and the
 * answer is never larger than the records it lists.
 */
export class FrameRefusals {
  private first: RecordRejection | undefined;
  private readonly groups = new Map<string, { code: RecordRejection['code']; source: string; seqs: number[] }>();
  private readonly byCode = new Map<RecordRejection['code'], number>();
  private total = 0;

  add(rejection: RecordRejection): void {
    this.first ??= rejection;
    this.total++;
    this.byCode.set(rejection.code, (this.byCode.get(rejection.code) ?? 0) + 1);
    if (rejection.source === undefined || rejection.seq === undefined) return;
    const key = `${rejection.code}\u0000${rejection.source}`;
    let group = this.groups.get(key);
    if (!group) {
      group = { code: rejection.code, source: rejection.source, seqs: [] };
      this.groups.set(key, group);
    }
    group.seqs.push(rejection.seq);
  }

  get count(): number {
    return this.total;
  }

  /** Refused records per code, for the metrics. */
  get counts(): ReadonlyMap<RecordRejection['code'], number> {
    return this.byCode;
  }

  /** The one error frame's payload; undefined when nothing was refused. */
  payload(): ErrorPayload | undefined {
    const first = this.first;
    if (!first) return undefined;
    const refused: RefusedRecords[] = [...this.groups.values()];
    return {
      code: first.code,
      message: first.message,
      ...(first.source !== undefined && { source: first.source }),
      ...(first.seq !== undefined && { seq: first.seq }),
      count: this.total,
      refused,
    };
  }
}
