import type { DataRecord } from '@dataflow/contracts';
import type { RecordSender } from './record-sender';
import type { RouteDecision } from '../routing/record-router';
import type { FrameContext } from './frame-context';

/** Records of one source from one frame, validated, ascending `seq`, no repeats. */
export interface SourcePart {
  readonly connection: RecordSender;
  readonly records: readonly DataRecord[];
  /** The route of each record (same index), decided when its frame arrived. */
  readonly decisions: readonly RouteDecision[];
  /** Every valid `seq` the frame carried for this source, repeats included: all are acknowledged. */
  readonly ackSeqs: readonly number[];
  /** The frames the records came from (several once parts are coalesced); each is settled once. */
  readonly frames: readonly FrameContext[];
}

export type HandOff = (source: string, part: SourcePart) => Promise<void>;

/**
 * Serialises the hand-offs of one source, so its records reach every sink in `seq` order.
 * Consecutive parts from the same connection are coalesced (up to `maxBatch` records) into one
 * hand-off: while a slow sink is being waited on, frames pile up and then leave together, which is
 * what lets throughput grow with load. Parts whose connection has closed are skipped: they were
 * never acknowledged, and the sender resends them in order on its next connection.
 */
export class SourcePipeline {
  private readonly parts: SourcePart[] = [];
  private running: Promise<void> | undefined;

  constructor(
    readonly source: string,
    private readonly handOff: HandOff,
    private readonly maxBatch: number,
  ) {}

  enqueue(part: SourcePart): void {
    this.parts.push(part);
    if (!this.running) this.start();
  }

  /** Resolves when everything enqueued so far has been handled. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  get queued(): number {
    return this.parts.length;
  }

  /** Something enqueued or being handed off. */
  get busy(): boolean {
    return this.running !== undefined || this.parts.length > 0;
  }

  private start(): void {
    this.running = this.run().finally(() => {
      this.running = undefined;
      // A part enqueued after the loop's last check but before this callback must not wait.
      if (this.parts.length > 0) this.start();
    });
  }

  private async run(): Promise<void> {
    for (let part = this.takeBatch(); part; part = this.takeBatch()) {
      if (!part.connection.open) {
        for (const frame of part.frames) frame.settle('failed');
        continue;
      }
      try {
        await this.handOff(this.source, part);
      } catch (error) {
        // A hand-off reports and settles its own failures; this is the guard that keeps the loop alive.
        part.connection.fail(`hand-off failed: ${error instanceof Error ? error.message : 'unknown error'}`);
      }
    }
  }

  private takeBatch(): SourcePart | undefined {
    const first = this.parts.shift();
    if (!first) return undefined;
    let merged:
      { records: DataRecord[]; decisions: RouteDecision[]; ackSeqs: number[]; frames: FrameContext[] } | undefined;
    let count = first.records.length;
    while (this.parts.length > 0) {
      const next = this.parts[0] as SourcePart;
      if (next.connection !== first.connection || count + next.records.length > this.maxBatch) break;
      // Only a part that continues the batch in seq order joins it; anything else is handed off on
      // its own afterwards, where the sinks judge its records against what they already have.
      const tailSeq = (merged?.records ?? first.records).at(-1)?.seq ?? 0;
      if ((next.records[0]?.seq ?? 0) <= tailSeq) break;
      this.parts.shift();
      merged ??= {
        records: [...first.records],
        decisions: [...first.decisions],
        ackSeqs: [...first.ackSeqs],
        frames: [...first.frames],
      };
      merged.records.push(...next.records);
      merged.decisions.push(...next.decisions);
      merged.ackSeqs.push(...next.ackSeqs);
      merged.frames.push(...next.frames);
      count = merged.records.length;
    }
    return merged ? { connection: first.connection, ...merged } : first;
  }
}
