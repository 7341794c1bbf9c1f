import type { Context } from '@opentelemetry/api';

export type FrameOutcome = 'acked' | 'refused' | 'failed';

const RANK: Record<FrameOutcome, number> = { acked: 0, refused: 1, failed: 2 };

/**
 * One records frame on its way through the filter: its trace context and arrival time. A frame's
 * records may be split by source and coalesced with other frames; each part holds the frame, and
 * when the last part settles the frame is settled once, with the worst outcome of its parts.
 */
export class FrameContext {
  private pending = 0;
  private worst: FrameOutcome = 'acked';

  constructor(
    /** The context of the frame's span: parent of the hand-off spans. */
    readonly context: Context,
    private readonly receivedAt: number,
    private readonly settled: (outcome: FrameOutcome, seconds: number) => void,
  ) {}

  hold(): void {
    this.pending++;
  }

  settle(outcome: FrameOutcome): void {
    if (RANK[outcome] > RANK[this.worst]) this.worst = outcome;
    if (--this.pending > 0) return;
    this.settled(this.worst, (performance.now() - this.receivedAt) / 1000);
  }
}
