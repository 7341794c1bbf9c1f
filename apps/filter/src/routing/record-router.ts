import type { DataRecord } from '@dataflow/contracts';

export type SinkName = 'queue' | 'file';

/** Decides the sinks of a record; an empty list would drop it. */
export interface RecordRouter {
  readonly version: string;
  route(record: DataRecord): readonly SinkName[];
}

const QUEUE: readonly SinkName[] = ['queue'];
const FILE: readonly SinkName[] = ['file'];

/** The seed's rule (CONTRACT.md §2): `randomValue > threshold` → RabbitMQ, otherwise the file. */
export class ThresholdRouter implements RecordRouter {
  readonly version: string;

  constructor(readonly threshold: number) {
    this.version = `threshold-${threshold}`;
  }

  route(record: DataRecord): readonly SinkName[] {
    return record.randomValue > this.threshold ? QUEUE : FILE;
  }
}
